import requests
import json

response = requests.post(
    'http://127.0.0.1:8080/ag-ui',
    headers={
        'Content-Type': 'application/json',
        'accept': 'text/event-stream'
    },
    json={
        'context': [],
        'messages': [{'content': '你是谁', 'id': 'msg_1', 'role': 'user'}],
        'runId': 'run_456',
        'threadId': 'thread_123',
        'tools': []
    },
    stream=True
)

for line in response.iter_lines():
    if line.startswith('data: '):
        event = json.loads(line[6:])
        print(f"Event: {event['type']}")
        if 'delta' in event:
            print(f"  Delta: {event['delta']}")
