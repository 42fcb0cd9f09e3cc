curl -N "http://localhost:3002/api/chat/stream?message=서울날씨알려줘&enableTools=true"
