// Функция для обработки потока событий от прокси
async function consumeProxyStream(requestBody) {
  try {
    const response = await fetch('/v1/react/sessions', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
      },
      body: JSON.stringify(requestBody),
    });

    if (!response.ok) {
      // Обработка ошибок, если запрос не прошел (например, 4xx, 5xx)
      const errorData = await response.json();
      console.error('Error starting stream:', errorData.detail);
      // Здесь можно обновить UI, показав ошибку
      return;
    }

    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';

    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        console.log('Stream finished.');
        break;
      }

      // Декодируем полученный чанк и добавляем в буфер
      buffer += decoder.decode(value, { stream: true });

      // SSE-сообщения разделены двойным переводом строки
      const parts = buffer.split('\n\n');
      buffer = parts.pop(); // Последняя часть может быть неполной, оставляем ее в буфере

      for (const part of parts) {
        if (part.startsWith('data: ')) {
          const jsonData = part.substring(6);
          handleStreamEvent(jsonData);
        }
      }
    }
  } catch (error) {
    console.error('An error occurred while consuming the stream:', error);
  }
}

// Функция-диспетчер для обработки разных типов событий
function handleStreamEvent(jsonData) {
  try {
    const event = JSON.parse(jsonData);
    const eventType = event.event_type;
    const payload = event.payload;

    // Используем switch для обработки разных событий от бэкенда
    switch (eventType) {
      case 'worker_ack':
        console.log('Backend worker has acknowledged the session.');
        break;
      case 'AgentThoughtStream':
        // Добавляем символ к "мыслям" агента в UI
        document.getElementById('thought-display').textContent += payload.char;
        break;
      case 'AgentToolCallStart':
        console.log(`Agent is calling tool: ${payload.tool_name}`);
        break;
      case 'FinalAnswerStream':
        // Добавляем символ к финальному ответу в UI
        document.getElementById('answer-display').textContent += payload.char;
        break;
      case 'FinalAnswerStreamEnd':
        console.log('Final answer received. Closing connection.');
        // Здесь можно активировать кнопки, убрать лоадер и т.д.
        break;
      case 'error':
        console.error('An error event was received:', payload.error);
        break;
      default:
        // Неизвестный тип события
        break;
    }
  } catch (e) {
    console.error('Failed to parse JSON from stream:', jsonData);
  }
}

// Пример вызова
const userRequest = {
  user_query: "What is the capital of France and what is the weather there right now?",
  model_alias: "smart_agent",
  // ... другие параметры
};

consumeProxyStream(userRequest);
