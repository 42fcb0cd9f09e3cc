import axios from 'axios';
const api = axios.create({
    baseURL: 'http://127.0.0.1:8080',
    headers: {
        'Content-Type': 'application/json',
    },
});

export async function sendMessage(message, onChunk) {
    const response = await api.post('/ag-ui', {
        context: [],
        messages: [{ content: message, id: 'msg_xxx', role: 'user' }],
        runId: 'run_456',
        threadId: 'thread_123',
        tools: []
    }, {
        responseType: 'text',
        transformResponse: (data) => {
            const lines = data.split('\n');
            const events = [];

            for (const line of lines) {
                if (line.startsWith('data: ')) {
                    try {
                        const event = JSON.parse(line.substring(6).trim());
                        events.push(event);
                        onChunk?.(event);
                    } catch (e) {
                        console.error('解析 SSE 失败:', e);
                    }
                }
            }

            return events;
        },
    });

    return response.data;
}
