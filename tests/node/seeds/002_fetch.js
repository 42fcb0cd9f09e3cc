async function sendMessage(message, onChunk) {
    const response = await fetch('http://127.0.0.1:8080/ag-ui', {
        method: 'POST',
        headers: {
            'Content-Type': 'application/json',
            'accept': 'text/event-stream'
        },
        body: JSON.stringify({
            context: [],
            messages: [{ content: message, id: 'msg_xxx', role: 'user' }],
            runId: 'run_456',
            threadId: 'thread_123',
            tools: []
        })
    });

    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';

    while (true) {
        const { done, value } = await reader.read();
        if (done) break;

        buffer += decoder.decode(value, { stream: true });
        const lines = buffer.split('\n');
        buffer = lines.pop() || '';

        for (const line of lines) {
            if (line.startsWith('data: ')) {
                try {
                    const event = JSON.parse(line.substring(6).trim());
                    handleSSEEvent(event, onChunk);
                } catch (e) {
                    console.error('解析 SSE 失败:', e);
                }
            }
        }
    }
}

function handleSSEEvent(event, onChunk) {
    switch (event.type) {
        case 'RUN_STARTED':
            console.log('运行开始:', event.runId);
            break;

        case 'TEXT_MESSAGE_START':
            console.log('消息开始:', event.messageId);
            break;

        case 'TEXT_MESSAGE_CONTENT':
            console.log('增量内容:', event.delta);
            onChunk?.(event.delta);
            break;

        case 'TEXT_MESSAGE_END':
            console.log('消息结束:', event.finalContent);
            break;

        case 'ERROR':
            console.error('错误:', event.message);
            break;
    }
}
