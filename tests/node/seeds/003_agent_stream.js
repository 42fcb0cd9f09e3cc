const agentId = 'agent-1';
const eventSource = new EventSource(`http://localhost:8000/stream/${agentId}`);

eventSource.addEventListener('agent_message', (event) => {
  const data = JSON.parse(event.data);
  console.log(`Message from ${data.agent_id}:`, data.message);
});
