// The quickstart plugin as an HTTP service for `wasmtrace serve` (built with
// `--http`): `GET /words?text=...` (or `POST /words` with the text as the
// body) answers the word count, in the same spans as app.js, under the
// host's server span. A failed validation is a 422 with the message.
import { ValidationError, countWords } from './words.js';

addEventListener('fetch', (event) =>
  event.respondWith(
    (async () => {
      const url = new URL(event.request.url);
      if (url.pathname !== '/words') return new Response('not found\n', { status: 404 });
      const body = event.request.method === 'POST' ? await event.request.text() : url.searchParams.get('text') ?? '';
      try {
        return new Response(countWords(body, 'http') + '\n');
      } catch (e) {
        if (e instanceof ValidationError) return new Response(`${e.message}\n`, { status: 422 });
        throw e;
      }
    })(),
  ),
);
