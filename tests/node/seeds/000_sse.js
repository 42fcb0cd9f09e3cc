const agentId = "agent_123";
const threadId = "thread_456";

const eventSource = new EventSource(`/agents/${agentId}/sse?thread_id=${threadId}`);

eventSource.onmessage = (event) => {
    const data = JSON.parse(event.data);
    console.log("Новое сообщение от агента:", data.message);
};

eventSource.onerror = (error) => {
    console.error("Ошибка SSE:", error);
};
