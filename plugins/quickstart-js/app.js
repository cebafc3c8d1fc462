// The quickstart plugin for `wasmtrace run` (world wasmtrace:plugin/plugin):
// see words.js for the trace it records. Input `fail` fails validation: the
// handler's error result, the invocation span's status Error.
import { handler as makeHandler } from 'wasmtrace-sdk';
import { countWords } from './words.js';

export const handler = makeHandler((input) => countWords(input, 'stdin'));
