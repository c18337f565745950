import { describe, expect, it } from 'vitest';
import { clearMessage, markMessage, mediaMessage } from '../src/twilio/builders.js';
import { BUSY_MESSAGE, busyTwiml, streamTwiml } from '../src/twilio/twiml.js';

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';

describe('outbound message builders', () => {
  it('media: exact JSON, payload is base64 of the raw bytes', () => {
    const mulaw = new Uint8Array([0xff, 0x7f, 0x00, 0x80]);
    expect(mediaMessage('MZ1', mulaw)).toBe('{"event":"media","streamSid":"MZ1","media":{"payload":"/38AgA=="}}');
  });

  it('media: equals the object form for a full 160-byte frame and a subarray view', () => {
    const backing = new Uint8Array(200).map((_, i) => i);
    const view = backing.subarray(20, 180);
    expect(mediaMessage('MZ1', view)).toBe(
      JSON.stringify({ event: 'media', streamSid: 'MZ1', media: { payload: Buffer.from(backing.slice(20, 180)).toString('base64') } }),
    );
  });

  it('mark: exact JSON, name escaped', () => {
    expect(markMessage('MZ1', 'item_1:40')).toBe('{"event":"mark","streamSid":"MZ1","mark":{"name":"item_1:40"}}');
    expect(JSON.parse(markMessage('MZ1', 'a"b\\c\n'))).toEqual({ event: 'mark', streamSid: 'MZ1', mark: { name: 'a"b\\c\n' } });
  });

  it('clear: exact JSON', () => {
    expect(clearMessage('MZ1')).toBe('{"event":"clear","streamSid":"MZ1"}');
  });
});

describe('TwiML', () => {
  it('stream TwiML without a prelude: Connect/Stream with parameters in order', () => {
    expect(
      streamTwiml({
        streamUrl: 'wss://voice.example.com/media-stream',
        parameters: { callSid: 'CA1', from: '+15551230000', to: '+15559870000', streamToken: 'tok' },
        preludeSay: null,
      }),
    ).toBe(
      XML_HEAD +
        '<Response><Connect><Stream url="wss://voice.example.com/media-stream">' +
        '<Parameter name="callSid" value="CA1"/>' +
        '<Parameter name="from" value="+15551230000"/>' +
        '<Parameter name="to" value="+15559870000"/>' +
        '<Parameter name="streamToken" value="tok"/>' +
        '</Stream></Connect></Response>',
    );
  });

  it('stream TwiML with a prelude, escaping text and attributes', () => {
    expect(
      streamTwiml({ streamUrl: 'ws://localhost:8080/media-stream', parameters: { note: 'a"<b>&' }, preludeSay: 'Hi <there> & welcome' }),
    ).toBe(
      XML_HEAD +
        '<Response><Say>Hi &lt;there&gt; &amp; welcome</Say>' +
        '<Connect><Stream url="ws://localhost:8080/media-stream"><Parameter name="note" value="a&quot;&lt;b>&amp;"/></Stream></Connect>' +
        '</Response>',
    );
  });

  it('busy TwiML: Say then Hangup', () => {
    expect(busyTwiml()).toBe(`${XML_HEAD}<Response><Say>${BUSY_MESSAGE}</Say><Hangup/></Response>`);
  });
});
