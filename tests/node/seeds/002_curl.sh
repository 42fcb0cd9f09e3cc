curl -X 'POST' \
  'http://127.0.0.1:8080/ag-ui' \
  -H 'Content-Type: application/json' \
  -H 'accept: text/event-stream' \
  -d '{
    "context": [],
    "messages": [{"content": "你是谁", "id": "msg_1", "role": "user"}],
    "runId": "run_456",
    "threadId": "thread_123",
    "tools": []
  }'
