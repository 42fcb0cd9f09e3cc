const sendMessage = async (agentId, threadId, message) => {
    const response = await fetch(`/agents/${agentId}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ thread_id: threadId, message }),
    });

    if (response.ok) {
        const result = await response.json();
        console.log("Сообщение отправлено:", result);
    } else {
        console.error("Ошибка при отправке сообщения:", response.statusText);
    }
};

sendMessage("agent_123", "thread_456", "Привет, агент!");
