/**
 * AnsweringMachineGate: every AnsweredBy value Twilio documents for (async) answering-machine detection, in both
 * modes, and a second verdict that changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { AnsweringMachineGate, HUMAN_NOTE, type AnsweringMachineSettings, type MachineVerdictAction } from '../src/call/answering-machine.js';

const MESSAGE = 'Say that Ada Lovelace has an appointment on Tuesday at 10 and should call the clinic back.';
const VOICEMAIL: AnsweringMachineSettings = { mode: 'voicemail', voicemailMessage: MESSAGE };
const HANG_UP: AnsweringMachineSettings = { mode: 'hang_up', voicemailMessage: null };

const TWILIO_ANSWERED_BY = ['human', 'unknown', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax'] as const;

const greet: MachineVerdictAction = { kind: 'greet', note: HUMAN_NOTE };
const leave = (answeredBy: string): MachineVerdictAction => ({
  kind: 'leave_message',
  instructions: `You reached an answering machine (answering-machine detection: ${answeredBy}); the beep has sounded and it is recording. Leave this message once, then stop talking: ${MESSAGE}`,
});
const hangUp = (answeredBy: string): MachineVerdictAction => ({ kind: 'hang_up', reason: `answered by ${answeredBy}` });

function decideOnce(settings: AnsweringMachineSettings, answeredBy: string) {
  const gate = new AnsweringMachineGate(settings);
  const before = { pending: gate.pending, greetingNote: gate.greetingNote };
  const action = gate.decide(answeredBy);
  return { before, action, after: { pending: gate.pending, greetingNote: gate.greetingNote } };
}

describe('AnsweringMachineGate: voicemail mode', () => {
  it('greets a person (human, unknown), leaves the message at the end of a greeting, hangs up on a machine start or a fax', () => {
    const expected: Record<(typeof TWILIO_ANSWERED_BY)[number], MachineVerdictAction> = {
      human: greet,
      unknown: greet,
      machine_start: hangUp('machine_start'),
      machine_end_beep: leave('machine_end_beep'),
      machine_end_silence: leave('machine_end_silence'),
      machine_end_other: leave('machine_end_other'),
      fax: hangUp('fax'),
    };
    for (const answeredBy of TWILIO_ANSWERED_BY) {
      const person = answeredBy === 'human' || answeredBy === 'unknown';
      expect({ answeredBy, ...decideOnce(VOICEMAIL, answeredBy) }).toEqual({
        answeredBy,
        before: { pending: true, greetingNote: null },
        action: expected[answeredBy],
        after: { pending: false, greetingNote: person ? HUMAN_NOTE : null },
      });
    }
  });

  it('hangs up at the end of a greeting when there is no message to leave', () => {
    const settings: AnsweringMachineSettings = { mode: 'voicemail', voicemailMessage: null };
    expect(TWILIO_ANSWERED_BY.map((answeredBy) => decideOnce(settings, answeredBy).action)).toEqual([
      greet,
      greet,
      hangUp('machine_start'),
      hangUp('machine_end_beep'),
      hangUp('machine_end_silence'),
      hangUp('machine_end_other'),
      hangUp('fax'),
    ]);
  });

  it('keeps the message verbatim (an empty message is still a message)', () => {
    const settings: AnsweringMachineSettings = { mode: 'voicemail', voicemailMessage: '' };
    expect(decideOnce(settings, 'machine_end_beep').action).toEqual({
      kind: 'leave_message',
      instructions: 'You reached an answering machine (answering-machine detection: machine_end_beep); the beep has sounded and it is recording. Leave this message once, then stop talking: ',
    });
  });
});

describe('AnsweringMachineGate: hang_up mode', () => {
  it('greets a person and hangs up on every machine verdict', () => {
    expect(TWILIO_ANSWERED_BY.map((answeredBy) => decideOnce(HANG_UP, answeredBy))).toEqual(
      TWILIO_ANSWERED_BY.map((answeredBy) => {
        const person = answeredBy === 'human' || answeredBy === 'unknown';
        return {
          before: { pending: true, greetingNote: null },
          action: person ? greet : hangUp(answeredBy),
          after: { pending: false, greetingNote: person ? HUMAN_NOTE : null },
        };
      }),
    );
  });

  it('hangs up even when a voicemail message is configured', () => {
    const settings: AnsweringMachineSettings = { mode: 'hang_up', voicemailMessage: MESSAGE };
    expect(['machine_end_beep', 'machine_end_silence', 'machine_end_other'].map((answeredBy) => decideOnce(settings, answeredBy).action)).toEqual([
      hangUp('machine_end_beep'),
      hangUp('machine_end_silence'),
      hangUp('machine_end_other'),
    ]);
  });

  it('treats a value Twilio does not document as a machine', () => {
    expect(decideOnce(HANG_UP, 'machine').action).toEqual(hangUp('machine'));
    expect(decideOnce(VOICEMAIL, 'Human').action).toEqual(hangUp('Human'));
  });
});

describe('AnsweringMachineGate: the first verdict stands', () => {
  it('ignores every later verdict, whatever the first one was', () => {
    for (const settings of [VOICEMAIL, HANG_UP]) {
      for (const first of TWILIO_ANSWERED_BY) {
        const gate = new AnsweringMachineGate(settings);
        gate.decide(first);
        const note = gate.greetingNote;
        expect(TWILIO_ANSWERED_BY.map((later) => gate.decide(later))).toEqual(TWILIO_ANSWERED_BY.map(() => ({ kind: 'ignore' })));
        expect({ pending: gate.pending, greetingNote: gate.greetingNote }).toEqual({ pending: false, greetingNote: note });
      }
    }
  });

  it('a machine first, then human: still no greeting note', () => {
    const gate = new AnsweringMachineGate(VOICEMAIL);
    expect(gate.decide('machine_end_beep')).toEqual(leave('machine_end_beep'));
    expect(gate.decide('human')).toEqual({ kind: 'ignore' });
    expect(gate.greetingNote).toBeNull();
  });

  it('the human note is the exact text the agent is told', () => {
    expect(HUMAN_NOTE).toBe('The person you called has answered (answering-machine detection: human).');
  });
});
