/**
 * Per-call variables in an agent's instructions and greeting: `{{callerNumber}}`, `{{calledNumber}}`, `{{callSid}}`,
 * `{{localTime}}` and `{{custom.NAME}}` (custom parameters given with the call). A variable that is not set becomes
 * an empty string, so a prompt never shows braces to the model; unknown names are left as written (a typo shows up
 * in testing rather than silently vanishing).
 */

export interface CallVariables {
  readonly callerNumber: string;
  readonly calledNumber: string;
  readonly callSid: string;
  /** Wall-clock time at the call's start, ms since the epoch. */
  readonly startedAtEpochMs: number;
  readonly custom: Readonly<Record<string, string>>;
}

/** Local time as people say it, in the server's time zone (or `timeZone`), e.g. `Sunday, 29 November 2026 at 15:32`. */
export function localTimeText(epochMs: number, timeZone?: string): string {
  return new Intl.DateTimeFormat('en-GB', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', ...(timeZone === undefined ? {} : { timeZone }) }).format(epochMs);
}

const VARIABLE = /\{\{\s*([A-Za-z][\w.-]*)\s*\}\}/g;

export function fillTemplate(template: string, variables: CallVariables, timeZone?: string): string {
  return template.replace(VARIABLE, (whole, name: string) => {
    switch (name) {
      case 'callerNumber':
        return variables.callerNumber;
      case 'calledNumber':
        return variables.calledNumber;
      case 'callSid':
        return variables.callSid;
      case 'localTime':
        return localTimeText(variables.startedAtEpochMs, timeZone);
      default:
        if (name.startsWith('custom.')) return variables.custom[name.slice('custom.'.length)] ?? '';
        return whole;
    }
  });
}
