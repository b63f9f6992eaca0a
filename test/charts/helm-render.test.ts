/**
 * The render harness (test/support/helm-render) behaves as Helm does for the
 * functions and objects charts/node-doctor/CONTRIBUTING.md lists, on a small
 * chart of its own.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { renderChartDir } from "../support/helm.js";

describe("helm-render harness", () => {
  let chart: string;
  before(async () => {
    chart = await mkdtemp(join(tmpdir(), "node-doctor-harness-chart-"));
    await mkdir(join(chart, "templates"));
    await mkdir(join(chart, "files"));
    await writeFile(join(chart, "Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5.6\"\n");
    await writeFile(join(chart, "files/data.yaml"), "answer: 42\nlist: [a, b]\n");
    await writeFile(join(chart, "templates/_helpers.tpl"), '{{- define "demo.name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n');
    await writeFile(
      join(chart, "templates/cm.yaml"),
      `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "demo.name" . }}
  namespace: {{ .Release.Namespace }}
data:
  chart: {{ printf "%s-%s-%s" .Chart.Name .Chart.Version .Chart.AppVersion | quote }}
  template: {{ .Template.Name | quote }}
  tpl: {{ tpl .Values.greeting . | quote }}
  required: {{ required "name is required" .Values.name | quote }}
  missing: "{{ .Values.nothing }}"
  toYaml: |
    {{- toYaml .Values.nested | nindent 4 }}
  fromYaml: {{ (.Files.Get "files/data.yaml" | fromYaml).answer | quote }}
  json: {{ toJson .Values.nested | quote }}
  fromJson: {{ (fromJson "{\\"k\\": \\"v\\"}").k | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  kube: {{ .Capabilities.KubeVersion.Minor | quote }}
  sprig: {{ list "b" "a" | sortAlpha | join "," | upper | quote }}
  lookup: {{ lookup "v1" "Node" "" "x" | len | quote }}
`,
    );
    await writeFile(join(chart, "templates/NOTES.txt"), "Installed {{ .Release.Name }}.\n");
  });
  after(async () => {
    await rm(chart, { recursive: true, force: true });
  });

  it("renders Helm's objects and functions", async () => {
    const rendered = await renderChartDir(chart, { greeting: "hello {{ .Release.Name }}", name: "x", nested: { b: [1, 2], a: "s", c: "on" } }, { release: "rel", namespace: "ns", kubeVersion: "v1.31.2", apiVersions: ["monitoring.coreos.com/v1"] });
    assert.equal(rendered.objects.length, 1);
    const cm = rendered.objects[0];
    assert.equal(cm?.metadata.name, "rel-demo");
    assert.equal(cm?.metadata.namespace, "ns");
    assert.deepEqual(cm?.["data"], {
      chart: "demo-1.2.3-4.5.6",
      template: "demo/templates/cm.yaml",
      tpl: "hello rel",
      required: "x",
      missing: "",
      // Helm's style (sigs.k8s.io/yaml): lists at the key's indentation, YAML 1.1 booleans quoted.
      toYaml: 'a: s\nb:\n- 1\n- 2\nc: "on"\n',
      fromYaml: "42",
      json: '{"a":"s","b":[1,2],"c":"on"}',
      fromJson: "v",
      monitoring: "true",
      kube: "31",
      sprig: "A,B",
      lookup: "0",
    });
    assert.equal(rendered.notes, "Installed rel.\n");
  });

  it("fails like Helm on required values, and names the template", async () => {
    await assert.rejects(renderChartDir(chart, { greeting: "", nested: {} }), /render error in demo\/templates\/cm\.yaml:.*name is required/);
  });

  it("does not offer env (Helm removes it)", async () => {
    const other = await mkdtemp(join(tmpdir(), "node-doctor-harness-env-"));
    try {
      await mkdir(join(other, "templates"));
      await writeFile(join(other, "Chart.yaml"), "apiVersion: v2\nname: env\nversion: 0.0.1\n");
      await writeFile(join(other, "templates/x.yaml"), '{{ env "HOME" }}\n');
      await assert.rejects(renderChartDir(other, {}), /function "env" not defined/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
