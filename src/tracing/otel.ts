/**
 * OpenTelemetry tracing, on only when configured: src/index.ts imports this module dynamically when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set, so with tracing off neither this nor the OpenTelemetry SDK is ever loaded.
 *
 * Spans go through a BatchSpanProcessor to an OTLP/HTTP exporter (JSON encoding, `application/json`, POST to
 * `<endpoint>/v1/traces`). The exporter reads these standard variables itself: OTEL_EXPORTER_OTLP_HEADERS /
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS (merged under `headers` given here), OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT,
 * OTEL_EXPORTER_OTLP[_TRACES]_COMPRESSION (`gzip`|`none`), OTEL_EXPORTER_OTLP[_TRACES]_CERTIFICATE,
 * OTEL_EXPORTER_OTLP[_TRACES]_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP[_TRACES]_CLIENT_KEY. The resource honours
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (both win over `serviceName`). The URL is the one given here:
 * `tracesEndpoint` as is (the caller passes OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), else `endpoint` + `/v1/traces`.
 * @opentelemetry/sdk-trace 3.x reads no environment itself: OTEL_TRACES_SAMPLER*, OTEL_BSP_* and OTEL_SDK_DISABLED
 * do nothing here (every call is traced; batches of up to 512 spans every 5 s, at most 2048 queued).
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, resourceAttributesEnvDetector, resourceFromAttributes, serviceNameEnvDetector } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { CallTracing } from './call-tracing.js';

export { CallTracing, epochHrTime, type CallTracingOptions } from './call-tracing.js';

export const DEFAULT_SERVICE_NAME = 'callbridge';
/** The instrumentation scope of every span (the tracer's name). */
export const TRACER_NAME = 'callbridge';

export interface TracingOptions {
  /** OTLP base URL (OTEL_EXPORTER_OTLP_ENDPOINT): spans are POSTed to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** Full traces URL used as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); wins over `endpoint`. */
  tracesEndpoint?: string;
  /** `service.name` unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name one. Default `callbridge`. */
  serviceName?: string;
  /** Extra request headers (an API key of the collector), over OTEL_EXPORTER_OTLP_HEADERS. */
  headers?: Record<string, string>;
  /** The app's clock (the calls' event times are read on it). Default: the system clock. */
  clock?: Clock;
  /** Where the SDK's own warnings go (a collector that refuses or is down), at most one line a minute. */
  logger?: Logger;
}

export interface Tracing {
  readonly observer: CallTracing;
  /**
   * Exports what is still buffered and stops, waiting at most `deadlineMs` (default 5 s; a collector that is down
   * must not hold the process's exit). Never rejects; later calls return the first call's promise.
   */
  shutdown(deadlineMs?: number): Promise<void>;
}

/** `<endpoint>/v1/traces` as the OTLP specification builds it from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function tracesUrl(endpoint: string): string {
  const base = checkedUrl(endpoint);
  return base.endsWith('/') ? `${base}v1/traces` : `${base}/v1/traces`;
}

/** The URL trimmed; throws (at startup, naming the value) when it is not an http(s) URL. */
function checkedUrl(value: string): string {
  const trimmed = value.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new Error(`tracing: the OTLP endpoint is not a URL: '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`tracing: the OTLP endpoint must be http(s): '${value}'`);
  return trimmed;
}

export function startTracing(options: TracingOptions): Tracing {
  const url = options.tracesEndpoint?.trim() ? checkedUrl(options.tracesEndpoint) : tracesUrl(options.endpoint);
  const exporter = new OTLPTraceExporter({ url, ...(options.headers === undefined ? {} : { headers: options.headers }) });
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': options.serviceName ?? DEFAULT_SERVICE_NAME }))
    .merge(detectResources({ detectors: [resourceAttributesEnvDetector, serviceNameEnvDetector] }));
  const provider = new TracerProvider({ resource, spanProcessors: [new BatchSpanProcessor({ exporter })] });
  const diagLogger = options.logger === undefined ? null : rateLimitedDiagLogger(options.logger, 60_000);
  if (diagLogger !== null) diag.setLogger(diagLogger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  const observer = new CallTracing(provider.getTracer(TRACER_NAME), options.clock === undefined ? {} : { clock: options.clock });
  let stopped: Promise<void> | null = null;
  return {
    observer,
    shutdown(deadlineMs = 5_000) {
      stopped ??= withDeadline(provider.shutdown(), deadlineMs).then(
        (done) => {
          if (!done) options.logger?.warn({ deadlineMs }, 'tracing: shutdown deadline passed, the last spans may be lost');
        },
        (error: unknown) => {
          options.logger?.warn({ err: error }, 'tracing: the last spans could not be exported');
        },
      ).finally(() => {
        if (diagLogger !== null) diag.disable();
      });
      return stopped;
    },
  };
}

/** Resolves true when `work` settled in time, false at the deadline (the timer never holds the process). */
async function withDeadline(work: Promise<void>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), deadlineMs);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The SDK's diagnostics (warn and error only) as log lines, at most one per `intervalMs` (the rest counted). */
function rateLimitedDiagLogger(logger: Logger, intervalMs: number): DiagLogger {
  let lastAt = -Infinity;
  let suppressed = 0;
  const log = (level: 'warn' | 'error') => (message: string, ...args: unknown[]) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      suppressed++;
      return;
    }
    lastAt = now;
    const detail = args.map(describe).join(' ');
    logger[level]({ component: 'opentelemetry', suppressed, ...(detail === '' ? {} : { detail }) }, `tracing: ${message}`);
    suppressed = 0;
  };
  const describe = (arg: unknown): string => {
    if (arg instanceof Error) return arg.message;
    if (typeof arg === 'string') return arg;
    try {
      return JSON.stringify(arg) ?? String(arg);
    } catch {
      return String(arg);
    }
  };
  const ignore = () => {};
  return { error: log('error'), warn: log('warn'), info: ignore, debug: ignore, verbose: ignore };
}
