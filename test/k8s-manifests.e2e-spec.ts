import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Environment, validateEnvironment } from '../src/config/environment.js';
import { underCi } from './support/system-dependency.js';
import { startTestApp, TestApp } from './support/test-app.js';

/**
 * The Kubernetes manifests in deploy/k8s: rendered by `kubectl kustomize` (the base and the
 * cluster overlay) and, so that something is checked on a machine without kubectl, read
 * straight from the base's files too.
 */
const K8S = 'deploy/k8s';
const OVERLAY = `${K8S}/overlays/cluster`;

type Manifest = { kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: any };

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
if (!hasKubectl) {
  const message = 'kubectl is missing: the `kubectl kustomize` renderings of deploy/k8s are NOT checked. Install kubectl (https://kubernetes.io/docs/tasks/tools/); .ci/run does.';
  if (underCi()) throw new Error(`${message} Under CI this is a failure.`);
  console.warn(`\n!!! ${message}\n`);
}
const withKubectl = hasKubectl ? it : it.skip;

function render(dir: string): Manifest[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Manifest);
}

/** The base's resources as written, without kustomize (its labels are not applied). */
function readBase(): Manifest[] {
  const dir = join(K8S, 'base');
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return kustomization.resources.flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => doc.toJS() as Manifest));
}

function only(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
}

const SETTING_NAMES = new Set(Object.keys(new Environment()));

/** Every environment variable the pod gets, by name, with its value where the manifests give one. */
function podEnvironment(manifests: Manifest[]): Record<string, string> {
  const container = only(manifests, 'Deployment').spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name ?? source.secretRef?.name;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const target = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    expect(target).toBeDefined();
    Object.assign(env, target!.data ?? {}, target!.stringData ?? {});
  }
  for (const entry of container.env ?? []) env[entry.name] = entry.value ?? '';
  return env;
}

function preStopPauseSeconds(container: any): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return Number(preStop.sleep.seconds);
  const [command, seconds] = preStop?.exec?.command ?? [];
  expect(command).toBe('sleep');
  return Number(seconds);
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** The checks every rendering must pass. */
  async function checkDeployable(manifests: Manifest[]): Promise<void> {
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'ConfigMap', 'Secret']) {
      only(manifests, kind);
    }
    const deployment = only(manifests, 'Deployment');
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    const portNames = new Set(container.ports.map((p: { name: string }) => p.name));

    // Probes: the routes the service really serves, on a port the container declares.
    expect(container.readinessProbe.httpGet.path).toBe('/health');
    expect(container.livenessProbe.httpGet.path).toBe('/health/live');
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(portNames.has(probe.httpGet.port) || container.ports.some((p: { containerPort: number }) => p.containerPort === probe.httpGet.port)).toBe(true);
      const answer = await t.http('GET', probe.httpGet.path);
      expect([probe.httpGet.path, answer.status]).toEqual([probe.httpGet.path, 200]);
    }

    // The drain fits: the pause, then at most SHUTDOWN_GRACE_SECONDS, all before the kill.
    const env = podEnvironment(manifests);
    const shutdownGrace = Number(env.SHUTDOWN_GRACE_SECONDS ?? new Environment().SHUTDOWN_GRACE_SECONDS);
    const pause = preStopPauseSeconds(container);
    expect(pause).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdownGrace + pause);

    // Every variable is one the service reads.
    expect(Object.keys(env).filter((name) => !SETTING_NAMES.has(name))).toEqual([]);

    // Hardening and resources.
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.securityContext.capabilities.drop).toContain('ALL');
    for (const kind of ['requests', 'limits']) expect(Object.keys(container.resources[kind]).sort()).toEqual(['cpu', 'memory']);

    // The objects find each other.
    const service = only(manifests, 'Service');
    expect(service.spec.ports.some((p: { targetPort: unknown }) => portNames.has(p.targetPort))).toBe(true);
    const podLabels = deployment.spec.template.metadata.labels ?? {};
    for (const selector of [service.spec.selector, only(manifests, 'PodDisruptionBudget').spec.selector.matchLabels, deployment.spec.selector.matchLabels]) {
      expect(Object.keys(selector ?? {}).length).toBeGreaterThan(0);
      expect(podLabels).toMatchObject(selector);
    }
    const hpa = only(manifests, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
  }

  withKubectl('renders the base with `kubectl kustomize deploy/k8s`, ready to deploy', async () => {
    const manifests = render(K8S);
    await checkDeployable(manifests);
    // In memory, confirmations live in one instance: it must not scale out.
    expect(only(manifests, 'HorizontalPodAutoscaler').spec.maxReplicas).toBe(1);
    expect(podEnvironment(manifests).REDIS_URL).toBeUndefined();
  });

  withKubectl('renders the cluster overlay: REDIS_URL set, several instances', async () => {
    const manifests = render(OVERLAY);
    await checkDeployable(manifests);
    const env = podEnvironment(manifests);
    expect(env.REDIS_URL).toMatch(/^redis:\/\/redis:6379/);
    expect(only(manifests, 'Deployment').spec.replicas).toBeGreaterThanOrEqual(2);
    expect(only(manifests, 'HorizontalPodAutoscaler').spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('has base files that pass the same checks when read without kubectl', async () => {
    const manifests = readBase();
    // kustomize adds the app label to the pod template and selectors; the files set it on the
    // PodDisruptionBudget's selector already.
    const deployment = only(manifests, 'Deployment');
    deployment.spec.selector = { matchLabels: { 'app.kubernetes.io/name': 'confirmation-gateway' } };
    deployment.spec.template.metadata.labels = { 'app.kubernetes.io/name': 'confirmation-gateway' };
    only(manifests, 'Service').spec.selector = { 'app.kubernetes.io/name': 'confirmation-gateway' };
    await checkDeployable(manifests);
    const overlaySecret = parse(readFileSync(join(OVERLAY, 'redis-url.yaml'), 'utf8')) as Manifest;
    expect(Object.keys(overlaySecret.stringData).filter((name) => !SETTING_NAMES.has(name))).toEqual([]);
  });

  it('ships an example Secret the service refuses to start with, and settings it accepts otherwise', () => {
    const env = podEnvironment(readBase());
    expect(() => validateEnvironment(env)).toThrow(/JWT_SECRET/);
    expect(() => validateEnvironment({ ...env, JWT_SECRET: 'x'.repeat(40), API_KEYS: 'a-real-key' })).not.toThrow();
  });
});
