curl -N http://localhost:8000/events
