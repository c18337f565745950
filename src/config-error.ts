/** A bad setting: the message is one line naming the variable and what is wrong (exit 78, EX_CONFIG). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
