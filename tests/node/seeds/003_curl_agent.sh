curl -N http://localhost:8000/stream/agent-1
