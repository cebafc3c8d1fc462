// The quickstart plugin's work, shared by the handler (`app.js`, for
// `wasmtrace run`) and the HTTP service (`http.js`, for `wasmtrace serve`).
//
// Trace shape (under the host's invocation span):
//
//   handle_request            request.size, request.defaulted, request.source
//   ├── validate_request      (input `fail`: status Error + `exception` event
//   │                          with exception.type ValidationError, and a
//   │                          WARN log record)
//   ├── process_business_logic
//   │     attributes added mid-span: items_processed, processing_status,
//   │     processing.avg_word_length, processing.top_words,
//   │     processing.word_lengths; event `data_fetched` { record_count };
//   │     INFO log record `counted the words` { words, unique }
//   └── send_response         response.size
//
// Metrics: `quickstart.words` (counter, `{word}`) and
// `quickstart.request.size` (histogram, `By`), as the Rust quickstart.

import { addAttributes, float, log, metrics, recordEvent, withSpan } from 'wasmtrace-sdk';

/** The input used when the plugin is invoked with an empty one. */
const DEFAULT_INPUT = 'hello world';

/** Why a request was rejected. */
export class ValidationError extends Error {}

/** Counts the words of `input` in the quickstart's spans; the response text. */
export function countWords(input, source) {
  const defaulted = input.trim() === '';
  const text = defaulted ? DEFAULT_INPUT : input;
  const size = new TextEncoder().encode(text).length;
  return withSpan(
    'handle_request',
    { attributes: { 'request.size': size, 'request.defaulted': defaulted, 'request.source': source } },
    (request) => {
      metrics
        .histogram('quickstart.request.size', {
          unit: 'By',
          description: "Size of the quickstart plugin's input",
          boundaries: [16, 64, 256, 1024],
        })
        .record(size);

      withSpan('validate_request', { attributes: { 'validation.rules': ['non_empty', 'not_fail'] } }, () => {
        if (text.trim() === 'fail') {
          log.warn('rejecting the input', { rule: 'not_fail' });
          throw new ValidationError('input `fail` is rejected by the quickstart plugin');
        }
      });

      const stats = withSpan('process_business_logic', () => process(text));
      const response = `${stats.words} words, ${stats.unique} unique; most frequent: ${stats.top
        .map(([word, n]) => `${word} (${n})`)
        .join(', ')}`;
      withSpan('send_response', { attributes: { 'response.size': response.length } }, () => {});
      request.setAttribute('response.words', stats.words);
      return response;
    },
  );
}

function process(text) {
  const words = text.split(/\s+/).filter((w) => w !== '');
  recordEvent('data_fetched', { record_count: words.length });

  const counts = new Map();
  for (const word of words) counts.set(word.toLowerCase(), (counts.get(word.toLowerCase()) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
  const lengths = words.map((w) => [...w].length);
  const average = words.length ? lengths.reduce((a, b) => a + b, 0) / words.length : 0;

  log.info('counted the words', { words: words.length, unique: counts.size });
  metrics
    .counter('quickstart.words', { unit: '{word}', description: 'Words the quickstart plugin counted' })
    .add(words.length, { processing_status: 'completed' });

  addAttributes({
    items_processed: words.length,
    processing_status: 'completed',
    // `float`: an average of 5 is still a double, as in the Rust plugin.
    'processing.avg_word_length': float(average),
    'processing.top_words': top.map(([w]) => w),
    'processing.word_lengths': lengths,
  });
  return { words: words.length, unique: counts.size, top };
}
