/**
 * The terminal client's command line, its reading of the socket's messages and typed lines, and the transcript lines
 * it prints (src/chat/args.ts, protocol.ts, console-client.ts helpers). Pure; exact messages.
 */
import { describe, expect, it } from 'vitest';
import { defaultBaseUrl, parseChatArgs, type ParsedChatArgs } from '../src/chat/args.js';
import { findOnPath } from '../src/chat/audio-io.js';
import { phoneSocketUrl, refusalLine, sessionCookie } from '../src/chat/console-client.js';
import { inputAction, parseServerMessage, TranscriptView } from '../src/chat/protocol.js';

const KEY_ENV = { CALLBRIDGE_API_KEY: 'env-key' };

function options(argv: string[], env: Record<string, string> = KEY_ENV) {
  const parsed = parseChatArgs(argv, env);
  if (parsed.kind !== 'chat') throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(argv: string[], env: Record<string, string> = KEY_ENV): string {
  const parsed: ParsedChatArgs = parseChatArgs(argv, env);
  if (parsed.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe('chat: the command line', () => {
  it('defaults: first agent, 127.0.0.1:$PORT (3000), the key from the environment, silence, play when possible', () => {
    expect(options([])).toEqual({ agent: null, baseUrl: 'http://127.0.0.1:3000', key: 'env-key', mic: false, outDir: null, play: true });
    expect(options([], { ...KEY_ENV, PORT: '8080' }).baseUrl).toBe('http://127.0.0.1:8080');
    expect(defaultBaseUrl({ PORT: 'eighty' })).toBe('http://127.0.0.1:3000');
    expect(defaultBaseUrl({ PORT: '70000' })).toBe('http://127.0.0.1:3000');
  });

  it('takes every option, as a separate value or after =', () => {
    expect(options(['--agent', 'sales', '--base-url', 'https://cb.example.com/', '--key', 'k1', '--mic', '--out', '/tmp/x', '--no-play'])).toEqual({
      agent: 'sales',
      baseUrl: 'https://cb.example.com',
      key: 'k1',
      mic: true,
      outDir: '/tmp/x',
      play: false,
    });
    expect(options(['--agent=front desk', '--base-url=http://10.0.0.2:9000/cb/', '--key=k2', '--out=answers'], {})).toEqual({
      agent: 'front desk',
      baseUrl: 'http://10.0.0.2:9000/cb',
      key: 'k2',
      mic: false,
      outDir: 'answers',
      play: true,
    });
  });

  it('--key wins over CALLBRIDGE_API_KEY', () => {
    expect(options(['--key', 'flag-key']).key).toBe('flag-key');
  });

  it('asks for help', () => {
    expect(parseChatArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseChatArgs(['--agent', 'a', '-h'], {})).toEqual({ kind: 'help' });
  });

  it('refuses bad command lines with one exact line each', () => {
    expect(error(['--agnet', 'x'])).toBe('chat: unknown option --agnet');
    expect(error(['sales'])).toBe('chat: unexpected argument "sales"');
    expect(error(['--agent'])).toBe('chat: --agent needs a value');
    expect(error(['--agent', '--mic'])).toBe('chat: --agent needs a value');
    expect(error(['--agent='])).toBe('chat: --agent needs a value');
    expect(error(['--mic=yes'])).toBe('chat: --mic takes no value');
    expect(error(['--base-url', 'ftp://host'])).toBe('chat: --base-url must be an http(s) URL like http://127.0.0.1:3000 (got "ftp://host")');
    expect(error(['--base-url', 'http://user:pw@host'])).toBe('chat: --base-url must be an http(s) URL like http://127.0.0.1:3000 (got "http://user:pw@host")');
    expect(error(['--base-url', 'not a url'])).toBe('chat: --base-url must be an http(s) URL like http://127.0.0.1:3000 (got "not a url")');
  });

  it('needs a key, and never echoes one', () => {
    expect(error([], {})).toBe('chat: no admin key: set CALLBRIDGE_API_KEY (environment or .env) or pass --key');
    expect(error([], { CALLBRIDGE_API_KEY: '  ' })).toBe('chat: no admin key: set CALLBRIDGE_API_KEY (environment or .env) or pass --key');
    expect(error(['--key', 'secret-123', '--bogus'])).not.toContain('secret-123');
  });
});

describe('chat: the console API helpers', () => {
  it('builds the socket address from the base URL and the token URL, with the rate', () => {
    expect(phoneSocketUrl('http://127.0.0.1:3000', '/phone/ws?token=abc', 24000)).toBe('ws://127.0.0.1:3000/phone/ws?token=abc&rate=24000');
    expect(phoneSocketUrl('https://cb.example.com/cb', '/phone/ws?token=abc', 24000)).toBe('wss://cb.example.com/cb/phone/ws?token=abc&rate=24000');
    expect(phoneSocketUrl('http://h', '/phone/ws', 16000)).toBe('ws://h/phone/ws?rate=16000');
  });

  it('keeps only the cb_session pair of Set-Cookie', () => {
    const headers = new Headers();
    headers.append('Set-Cookie', 'other=1; Path=/');
    headers.append('Set-Cookie', 'cb_session=s3cr3t; HttpOnly; SameSite=Strict; Path=/');
    expect(sessionCookie(headers)).toBe('cb_session=s3cr3t');
    expect(sessionCookie(new Headers())).toBeNull();
  });

  it('says what was refused in one line', () => {
    expect(refusalLine('sign-in', 429, { error: { code: 'throttled', message: 'too many\n attempts' } })).toBe('chat: sign-in refused (HTTP 429): throttled: too many attempts');
    expect(refusalLine('the phone token', 502, '<html>')).toBe('chat: the phone token refused (HTTP 502): not a callbridge answer');
  });

  it('finds executables on PATH', () => {
    expect(findOnPath('node', `/nonexistent:${process.execPath.replace(/\/node$/, '')}`)).toBe(process.execPath);
    expect(findOnPath('surely-not-a-command-here', '/usr/bin:/bin')).toBeNull();
  });
});

describe('chat: the socket messages', () => {
  it('reads the server messages of the contract and ignores anything else', () => {
    expect(parseServerMessage('{"type":"start","callSid":"WB1","agent":"a","format":{"encoding":"pcm16","sampleRateHz":24000},"frameMs":20}')).toEqual({
      type: 'start',
      callSid: 'WB1',
      agent: 'a',
      sampleRateHz: 24000,
    });
    expect(parseServerMessage('{"type":"mark","name":"m1"}')).toEqual({ type: 'mark', name: 'm1' });
    expect(parseServerMessage('{"type":"clear"}')).toEqual({ type: 'clear' });
    expect(parseServerMessage('{"type":"transcript","speaker":"caller","itemId":"i1","text":"hi","final":true}')).toEqual({
      type: 'transcript',
      speaker: 'caller',
      itemId: 'i1',
      text: 'hi',
      final: true,
    });
    expect(parseServerMessage('{"type":"end","reason":"agent_hangup"}')).toEqual({ type: 'end', reason: 'agent_hangup' });
    for (const junk of ['', 'nope', '[]', 'null', '{"type":"mark"}', '{"type":"transcript","speaker":"bot","text":"x"}', '{"type":"dance"}']) {
      expect(parseServerMessage(junk)).toBeNull();
    }
  });

  it('turns typed lines into messages', () => {
    expect(inputAction('hello there')).toEqual({ kind: 'send', messages: ['{"type":"text","text":"hello there"}'] });
    expect(inputAction('   ')).toEqual({ kind: 'none' });
    expect(inputAction('/quit')).toEqual({ kind: 'quit' });
    expect(inputAction(' /quit ')).toEqual({ kind: 'quit' });
    expect(inputAction('/dtmf 1#')).toEqual({ kind: 'send', messages: ['{"type":"dtmf","digit":"1"}', '{"type":"dtmf","digit":"#"}'] });
    expect(inputAction('/dtmf x')).toEqual({ kind: 'error', message: '/dtmf takes digits, * and #, like /dtmf 12#' });
  });

  it('prints each final transcript line once, and what never became final at the end', () => {
    const view = new TranscriptView();
    const line = (speaker: 'agent' | 'caller', itemId: string, text: string, final: boolean) => view.update({ type: 'transcript', speaker, itemId, text, final });
    expect(line('agent', 'a1', 'Hel', false)).toEqual([]);
    expect(line('agent', 'a1', 'Hello, how can I help?', true)).toEqual(['agent: Hello, how can I help?']);
    expect(line('agent', 'a1', 'Hello, how can I help?', true)).toEqual([]);
    expect(line('caller', 'c1', ' book a table ', true)).toEqual(['you: book a table']);
    expect(line('agent', 'a1', 'Hello, how', true)).toEqual(['agent: Hello, how']);
    expect(line('agent', 'a2', 'For how', false)).toEqual([]);
    expect(line('caller', 'c2', '', true)).toEqual([]);
    expect(view.finish()).toEqual(['agent: For how…']);
    expect(view.finish()).toEqual([]);
  });
});
