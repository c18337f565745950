import { mkdirSync } from 'node:fs';

/**
 * Command-line options of the calls benchmark (see bench/calls.ts for what they do).
 */

/**
 * `pcm`: the bridge, 24 kHz PCM16 upstream (transcoded per call); `pcmu`: the bridge, mu-law pass-through;
 * `relay`: the reference, bench/plain-relay.ts (the official sample's plain mu-law relay).
 */
export type Mode = 'pcm' | 'pcmu' | 'relay';
export const MODES: readonly Mode[] = ['relay', 'pcmu', 'pcm'];

/**
 * The young-generation semi-space the product runs with (`npm start` and the Dockerfile pass
 * `--max-semi-space-size=8`), so the bridge is measured as it runs; `--semi-space-mb 0` = Node's default. The relay
 * (the official sample) always runs with Node's default.
 */
export const PRODUCT_SEMI_SPACE_MB = 8;

export interface Options {
  /** Each N is run in every mode (N ascending, modes in the order given), so ratios compare runs of one sitting. */
  calls: number[];
  seconds: number;
  modes: Mode[];
  /**
   * Rounds per N: every mode K times, the order reversed every other round (relay, pcmu, pcm, then pcm, pcmu, relay…)
   * so that a slow drift of the machine weighs on every mode alike; the ratios are the medians over the rounds.
   */
  rounds: number;
  search: boolean;
  searchSeconds: number;
  /** The search starts at the first step ≥ this N (earlier steps are assumed clean). */
  searchFrom: number;
  budgetS: number;
  rampMs: number;
  warmupMs: number;
  speedFactor: number;
  pin: boolean;
  profileDir: string | null;
  /** V8 young-generation semi-space for the bridge, MiB (null = Node's default; the relay always runs with it). */
  semiSpaceMb: number | null;
  /** Extra environment for the bridge's process (`--bridge-env K=V`, repeatable): compare settings in one sitting. */
  bridgeEnv: Record<string, string>;
  /**
   * The relay with ws's native `bufferutil` (masking/unmasking in C++). Off by default: the official sample's
   * package.json does not install it, so its ws masks in JavaScript.
   */
  relayBufferutil: boolean;
}

export function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    calls: [50],
    seconds: 20,
    modes: [...MODES],
    rounds: 1,
    search: false,
    searchSeconds: 10,
    searchFrom: 0,
    budgetS: 600,
    rampMs: 1_000,
    warmupMs: 2_500,
    speedFactor: 4,
    pin: true,
    profileDir: null,
    semiSpaceMb: PRODUCT_SEMI_SPACE_MB,
    bridgeEnv: {},
    relayBufferutil: false,
  };
  const number = (name: string, value: string | undefined, min: number, max: number): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new Error(`${name} needs a number from ${min} to ${max} (got ${value ?? 'nothing'})`);
    }
    return parsed;
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++index];
    switch (flag) {
      case '--calls': {
        const list = (value() ?? '').split(',');
        options.calls = [...new Set(list.map((calls) => Math.round(number(flag, calls.trim(), 1, 2_000))))].sort((a, b) => a - b);
        break;
      }
      case '--seconds':
        options.seconds = number(flag, value(), 2, 600);
        break;
      case '--modes': {
        const modes = (value() ?? '').split(',').map((mode) => mode.trim());
        if (modes.length === 0 || modes.some((mode) => !MODES.includes(mode as Mode)) || new Set(modes).size !== modes.length) {
          throw new Error('--modes takes a comma-separated list of relay, pcmu, pcm (default relay,pcmu,pcm)');
        }
        options.modes = modes as Mode[];
        break;
      }
      case '--rounds':
        options.rounds = Math.round(number(flag, value(), 1, 20));
        break;
      case '--search':
        options.search = true;
        break;
      case '--search-from':
        options.searchFrom = Math.round(number(flag, value(), 0, 2_000));
        break;
      case '--search-seconds':
        options.searchSeconds = number(flag, value(), 2, 600);
        break;
      case '--budget':
        options.budgetS = number(flag, value(), 10, 7_200);
        break;
      case '--ramp-ms':
        options.rampMs = number(flag, value(), 0, 60_000);
        break;
      case '--warmup-ms':
        options.warmupMs = number(flag, value(), 0, 60_000);
        break;
      case '--speed-factor':
        options.speedFactor = number(flag, value(), 1, 100);
        break;
      case '--no-pin':
        options.pin = false;
        break;
      case '--semi-space-mb': {
        const mb = Math.round(number(flag, value(), 0, 1_024));
        options.semiSpaceMb = mb === 0 ? null : mb;
        break;
      }
      case '--bridge-env': {
        const pair = value() ?? '';
        const equals = pair.indexOf('=');
        if (equals <= 0) throw new Error('--bridge-env needs NAME=VALUE');
        options.bridgeEnv[pair.slice(0, equals)] = pair.slice(equals + 1);
        break;
      }
      case '--relay-bufferutil':
        options.relayBufferutil = true;
        break;
      case '--profile':
        options.profileDir = value() ?? null;
        if (options.profileDir === null) throw new Error('--profile needs a directory');
        mkdirSync(options.profileDir, { recursive: true });
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: npx tsx bench/calls.ts [--calls N[,N…]] [--seconds S] [--modes relay,pcmu,pcm] [--rounds K] [--search] [--search-from N] [--search-seconds S] [--budget S]\n' +
            '                               [--ramp-ms MS] [--warmup-ms MS] [--speed-factor F] [--no-pin] [--profile DIR] [--semi-space-mb N]\n' +
            '                               [--bridge-env NAME=VALUE …] [--relay-bufferutil]\n',
        );
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${arg} (try --help)`);
    }
  }
  return options;
}
