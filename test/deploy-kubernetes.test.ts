/**
 * deploy/kubernetes: every manifest is validated against the official Kubernetes OpenAPI schemas (kubernetes-models:
 * the model class of its kind, `.validate()`), then the values that make a drain and per-pod routing work are read
 * back from the YAML. No cluster runs here: this is what can be checked without one. The schemas accept unknown
 * fields (a misspelt key passes them), which is why the important keys are also asserted one by one below.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = path.join(ROOT, 'deploy/kubernetes');

/**
 * After DRAIN_TIMEOUT_S the process still needs: the goodbye (DRAIN_GOODBYE_GRACE_MS, 30 s, src/server/app.ts), closing
 * (SHUTDOWN_GRACE_MS, 5 s), the record flush (8 s) and the trace flush (5 s, src/index.ts): 48 s.
 */
const SHUTDOWN_TAIL_S = 30 + 5 + 8 + 5;

type Doc = Record<string, any>;
type ModelClass = new (data: any) => { validate(): void };
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function docsOf(file: string): Doc[] {
  return parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((doc) => {
    expect(doc.errors, `${file}: YAML errors`).toEqual([]);
    return doc.toJS() as Doc;
  });
}

const manifestFiles = readdirSync(DIR).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort();
const all = manifestFiles.flatMap((file) => docsOf(file).map((doc) => ({ file, doc })));
const kustomization = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as Doc;
const find = (kind: string, name?: string): Doc[] => all.filter(({ doc }) => doc['kind'] === kind && (name === undefined || doc['metadata']?.['name'] === name)).map(({ doc }) => doc);
const one = (kind: string, name?: string): Doc => {
  const found = find(kind, name);
  expect(found, `exactly one ${kind}${name === undefined ? '' : ` ${name}`}`).toHaveLength(1);
  return found[0]!;
};

const statefulSet = one('StatefulSet');
const podSpec = statefulSet['spec']['template']['spec'] as Doc;
const container = podSpec['containers'][0] as Doc;
const config = one('ConfigMap')['data'] as Record<string, string>;
const drainTimeoutS = Number(config['DRAIN_TIMEOUT_S']);
const podNames = Array.from({ length: statefulSet['spec']['replicas'] as number }, (_, i) => `${statefulSet['metadata']['name']}-${i}`);
const envVar = (name: string): Doc | undefined => (container['env'] as Doc[]).find((entry) => entry['name'] === name);
const containerPort = (name: string): number => (container['ports'] as Doc[]).find((port) => port['name'] === name)?.['containerPort'];

describe('Kubernetes manifests against the official schemas (kubernetes-models)', () => {
  it.each(all.map(({ file, doc }) => [`${file}: ${doc['kind']} ${doc['metadata']?.['name']}`, doc] as const))('%s is valid', (_label, doc) => {
    const Model = MODELS[`${doc['apiVersion']}/${doc['kind']}`];
    expect(Model, `no model for ${doc['apiVersion']} ${doc['kind']}`).toBeDefined();
    expect(() => new Model!(doc).validate()).not.toThrow();
  });

  it('the validation is real: a wrong type, a missing required field and a wrong shape are each refused', () => {
    const broken = (patch: (copy: Doc) => void): (() => void) => {
      const copy = structuredClone(statefulSet);
      patch(copy);
      return () => new StatefulSet(copy as never).validate();
    };
    expect(broken((copy) => (copy['spec']['replicas'] = 'two'))).toThrow(/replicas/);
    expect(broken((copy) => delete copy['spec']['template']['spec']['containers'][0]['name'])).toThrow(/name/);
    expect(broken((copy) => (copy['spec']['template']['spec']['containers'][0]['readinessProbe']['httpGet']['port'] = { name: 'http' }))).toThrow();
  });

  it('kustomization.yaml lists every manifest but the example Secret, and each one exists', () => {
    const resources = kustomization['resources'] as string[];
    for (const file of resources) expect(existsSync(path.join(DIR, file)), file).toBe(true);
    expect([...resources].sort()).toEqual(manifestFiles.filter((file) => file !== 'secret.example.yaml'));
    expect(kustomization['namespace']).toBe(one('Namespace')['metadata']['name']);
    // The placeholder image is the one kustomize rewrites.
    expect((kustomization['images'] as Doc[]).map((image) => image['name'])).toContain(container['image']);
  });
});

describe('the pods: drain, probes, identity', () => {
  it('runs 2 replicas with per-pod names that stay stable (a StatefulSet governed by a headless Service)', () => {
    expect(statefulSet['spec']['replicas']).toBe(2);
    const headless = one('Service', statefulSet['spec']['serviceName']);
    expect(headless['spec']['clusterIP']).toBe('None');
    expect(statefulSet['spec']['podManagementPolicy']).toBe('Parallel');
    expect(statefulSet['spec']['selector']['matchLabels']).toEqual(expect.objectContaining(headless['spec']['selector']));
  });

  it('readiness is /readyz, liveness and start-up /healthz, all on the container port the app listens on', () => {
    expect(containerPort('http')).toBe(Number(config['PORT']));
    expect(container['readinessProbe']['httpGet']).toEqual({ path: '/readyz', port: 'http' });
    expect(container['livenessProbe']['httpGet']).toEqual({ path: '/healthz', port: 'http' });
    expect(container['startupProbe']['httpGet']).toEqual({ path: '/healthz', port: 'http' });
  });

  it('has a preStop sleep, and terminationGracePeriodSeconds covers it + DRAIN_TIMEOUT_S + the goodbye and flushes', () => {
    const command = container['lifecycle']['preStop']['exec']['command'] as string[];
    expect(command[0]).toBe('sleep');
    const sleepS = Number(command[1]);
    expect(sleepS).toBeGreaterThanOrEqual(5);
    expect(Number.isInteger(drainTimeoutS) && drainTimeoutS > 0, 'DRAIN_TIMEOUT_S in configmap.yaml').toBe(true);
    expect(podSpec['terminationGracePeriodSeconds']).toBeGreaterThanOrEqual(sleepS + drainTimeoutS + SHUTDOWN_TAIL_S);
  });

  it('INSTANCE_ID is the pod name; INSTANCE_PUBLIC_URL is https://<pod name>.<domain> (POD_NAME defined before use)', () => {
    expect(envVar('INSTANCE_ID')?.['valueFrom']).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(envVar('POD_NAME')?.['valueFrom']).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    const names = (container['env'] as Doc[]).map((entry) => entry['name']);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('INSTANCE_PUBLIC_URL'));
    const template = envVar('INSTANCE_PUBLIC_URL')?.['value'] as string;
    expect(template).toMatch(/^https:\/\/\$\(POD_NAME\)\.[a-z0-9.-]+$/);
    for (const pod of podNames) expect(new URL(template.replace('$(POD_NAME)', pod)).hostname.startsWith(`${pod}.`)).toBe(true);
  });

  it('takes its settings from the ConfigMap and its secrets from the Secret, by the names they have', () => {
    const refs = container['envFrom'] as Doc[];
    expect(refs.map((ref) => ref['configMapRef']?.['name']).filter(Boolean)).toEqual([one('ConfigMap')['metadata']['name']]);
    expect(refs.map((ref) => ref['secretRef']?.['name']).filter(Boolean)).toEqual([one('Secret')['metadata']['name']]);
    const secret = one('Secret')['stringData'] as Record<string, string>;
    for (const key of ['DATABASE_URL', 'TWILIO_AUTH_TOKEN', 'OPENAI_API_KEY', 'METRICS_TOKEN']) expect(secret[key], key).toBeTruthy();
    expect(secret['DATABASE_URL']).toMatch(/^postgres(ql)?:\/\//);
    expect(readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('deploy/kubernetes/secret.yaml');
    expect(config['NODE_ENV']).toBe('production');
    expect(new URL(config['PUBLIC_BASE_URL']!).protocol).toBe('https:');
  });

  it('runs as non-root on a read-only root filesystem, with writable emptyDirs for /tmp and RECORDINGS_DIR', () => {
    expect(podSpec['securityContext']['runAsNonRoot']).toBe(true);
    expect(podSpec['securityContext']['runAsUser']).toBeGreaterThan(0);
    expect(container['securityContext']).toEqual(
      expect.objectContaining({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } }),
    );
    const mounts = container['volumeMounts'] as Doc[];
    const volumes = new Map((podSpec['volumes'] as Doc[]).map((volume) => [volume['name'], volume]));
    const writable = mounts.filter((mount) => volumes.get(mount['name'])?.['emptyDir'] !== undefined).map((mount) => mount['mountPath'] as string);
    expect(writable).toContain('/tmp');
    expect(writable.some((dir) => config['RECORDINGS_DIR']!.startsWith(`${dir}/`))).toBe(true);
    expect(container['resources']['requests']).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(container['resources']['limits']['memory']).toEqual(expect.any(String));
  });

  it('a PodDisruptionBudget lets at most one pod go at a time', () => {
    const pdb = one('PodDisruptionBudget');
    expect(pdb['spec']['maxUnavailable']).toBe(1);
    expect(statefulSet['spec']['template']['metadata']['labels']).toEqual(expect.objectContaining(pdb['spec']['selector']['matchLabels']));
  });
});

describe('routing: the shared host to ready pods, each pod host to its pod even while it drains', () => {
  const podLabels = statefulSet['spec']['template']['metadata']['labels'] as Record<string, string>;
  const ingresses = find('Ingress');
  const backends = ingresses.flatMap((ingress) =>
    (ingress['spec']['rules'] as Doc[]).flatMap((rule) =>
      (rule['http']['paths'] as Doc[]).map((route) => ({ ingress, host: rule['host'] as string, path: route['path'] as string, pathType: route['pathType'], service: route['backend']['service'] as Doc })),
    ),
  );

  it('the shared Service selects every pod, only when ready; each per-pod Service selects one pod, ready or not', () => {
    const shared = one('Service', 'callbridge');
    expect(shared['spec']['publishNotReadyAddresses']).toBeUndefined();
    expect(podLabels).toEqual(expect.objectContaining(shared['spec']['selector']));
    for (const pod of podNames) {
      const own = one('Service', pod);
      expect(own['spec']['publishNotReadyAddresses']).toBe(true);
      expect(own['spec']['selector']).toEqual(expect.objectContaining({ 'statefulset.kubernetes.io/pod-name': pod }));
    }
  });

  it('every Ingress backend is an existing Service port whose target is the container port', () => {
    for (const { service } of backends) {
      const target = one('Service', service['name']);
      const port = (target['spec']['ports'] as Doc[]).find((entry) => entry['name'] === service['port']['name']);
      expect(port, `${service['name']}:${service['port']['name']}`).toBeDefined();
      expect(port!['targetPort']).toBe('http');
    }
  });

  it('PUBLIC_BASE_URL reaches the shared Service (the webhook with its own retry rule); each pod host its own Service', () => {
    const sharedHost = new URL(config['PUBLIC_BASE_URL']!).hostname;
    expect(backends.filter((b) => b.host === sharedHost).map((b) => [b.path, b.pathType, b.service['name']]).sort()).toEqual([
      ['/', 'Prefix', 'callbridge'],
      ['/incoming-call', 'Exact', 'callbridge'],
    ]);
    const template = envVar('INSTANCE_PUBLIC_URL')!['value'] as string;
    for (const pod of podNames) {
      const host = new URL(template.replace('$(POD_NAME)', pod)).hostname;
      expect(backends.filter((b) => b.host === host).map((b) => [b.path, b.service['name']])).toEqual([['/', pod]]);
    }
  });

  it('the shared host keeps one browser on one pod (cookie affinity): console sessions and phone tokens live there', () => {
    const shared = ingresses.find((ingress) => (ingress['spec']['rules'] as Doc[]).some((rule) => rule['host'] === 'calls.example.com' && (rule['http']['paths'] as Doc[]).some((route) => route['path'] === '/')))!;
    expect(shared['metadata']['annotations']).toMatchObject({ 'nginx.ingress.kubernetes.io/affinity': 'cookie', 'nginx.ingress.kubernetes.io/session-cookie-secure': 'true' });
  });

  it('TLS covers every host; every Ingress is for ingress-nginx', () => {
    for (const ingress of ingresses) {
      expect(ingress['spec']['ingressClassName']).toBe('nginx');
      const covered = (ingress['spec']['tls'] as Doc[]).flatMap((tls) => tls['hosts'] as string[]);
      for (const rule of ingress['spec']['rules'] as Doc[]) expect(covered, ingress['metadata']['name']).toContain(rule['host']);
    }
  });

  it('WebSocket and server-sent-event timeouts, buffering and failover are set where they matter', () => {
    const ann = (name: string): Record<string, string> => one('Ingress', name)['metadata']['annotations'];
    const p = 'nginx.ingress.kubernetes.io/';
    for (const name of ['callbridge', 'callbridge-pods']) {
      expect(Number(ann(name)[`${p}proxy-read-timeout`]), name).toBeGreaterThanOrEqual(3600);
      expect(Number(ann(name)[`${p}proxy-send-timeout`]), name).toBeGreaterThanOrEqual(3600);
    }
    expect(ann('callbridge')[`${p}proxy-buffering`]).toBe('off');
    expect(ann('callbridge-pods')[`${p}proxy-next-upstream`]).toBe('off');
    expect(ann('callbridge-webhook')[`${p}proxy-next-upstream`]).toContain('non_idempotent');
    expect(ann('callbridge')[`${p}proxy-next-upstream`]).not.toContain('non_idempotent');
  });

  it("every ingress-nginx annotation passes ingress-nginx's own validator for it", () => {
    // From kubernetes/ingress-nginx internal/ingress/annotations/proxy/main.go and parser/validators.go.
    const integer = /^-?\d+$/;
    const validators: Record<string, RegExp> = {
      'proxy-read-timeout': integer,
      'proxy-send-timeout': integer,
      'proxy-next-upstream-tries': integer,
      'proxy-next-upstream-timeout': integer,
      'proxy-body-size': /^\d+[bkmg]?$/i,
      'proxy-buffering': /^(on|off)$/,
      'proxy-next-upstream': /^((error|timeout|invalid_header|http_500|http_502|http_503|http_504|http_403|http_404|http_429|non_idempotent|off)\s?)+$/,
      // internal/ingress/annotations/sessionaffinity/main.go
      affinity: /^cookie$/,
      'session-cookie-name': /^[A-Za-z0-9_-]+$/,
      'session-cookie-samesite': /^(None|Lax|Strict)$/i,
      'session-cookie-secure': /^(true|false)$/,
    };
    for (const ingress of ingresses) {
      for (const [key, value] of Object.entries(ingress['metadata']['annotations'] as Record<string, string>)) {
        const name = key.replace('nginx.ingress.kubernetes.io/', '');
        expect(validators[name], `${key} is not one this test knows`).toBeDefined();
        expect(value, key).toMatch(validators[name]!);
      }
    }
  });
});
