import requests

def stream_events(url: str):
    """Stream SSE events from server"""
    response = requests.get(url, stream=True)

    for line in response.iter_lines():
        if not line:
            continue

        line = line.decode('utf-8')

        if line.startswith('data:'):
            data = line[5:].strip()
            print(f"Received: {data}")

        elif line.startswith('event:'):
            event = line[6:].strip()
            print(f"Event: {event}")

# Usage
stream_events('http://localhost:8000/events')
