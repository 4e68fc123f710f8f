// What the loader reads from disk: at most 1 MiB of any file, UTF-8 only, and
// build contexts and data folders whose links stay inside them.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkLocalInputs, loadSpecFile, MAX_SPEC_BYTES, type PipelineSpec } from '../../src/spec';
import { specError } from './support';

const MINIMAL = `name: claims-severity
image:
  uri: registry.example.com/claims-severity:1
training:
  inputs:
  - name: train
    uri: s3://champ-data/train/
  outputPath: s3://champ-models/claims-severity/
deployment:
  endpointName: claims-severity
`;

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'champ-spec-files-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const refusal = (file: string) => specError(() => loadSpecFile(file));

describe('reading the spec file', () => {
  test('a 50 MB spec is refused by its size, unread', () => {
    const file = path.join(tmp, 'huge.yaml');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 50 * 1024 * 1024);
    closeSync(fd);
    const error = refusal(file);
    expect(error.issues).toEqual([expect.objectContaining({ path: '', message: expect.stringContaining('50 MiB, larger than the 1 MiB a spec may be') })]);
  });

  test('a spec of exactly 1 MiB is read; one byte more is refused', () => {
    const file = path.join(tmp, 'edge.yaml');
    const padded = (size: number) => `${MINIMAL}description: "${'x'.repeat(size - Buffer.byteLength(MINIMAL) - 16)}"\n`;
    writeFileSync(file, padded(MAX_SPEC_BYTES));
    expect(Buffer.byteLength(padded(MAX_SPEC_BYTES))).toBe(MAX_SPEC_BYTES);
    // Read in full: the refusal is about the description, not the size.
    expect(refusal(file).issues.map((i) => i.path)).toEqual(['description']);
    writeFileSync(file, padded(MAX_SPEC_BYTES + 1));
    expect(refusal(file).issues[0]!.message).toContain('larger than the 1 MiB');
  });

  test('/dev/zero is read only up to the limit and refused', () => {
    const before = process.memoryUsage().rss;
    const started = Date.now();
    expect(refusal('/dev/zero').issues[0]!.message).toContain('larger than the 1 MiB');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  test('a pipe that never ends is read only up to the limit and refused', async () => {
    const fifo = path.join(tmp, 'spec.fifo');
    execFileSync('mkfifo', [fifo]);
    // `yes` writes forever; the loader must stop at the limit and let it die of a broken pipe.
    const writer = spawn('sh', ['-c', 'exec yes "name: x" > "$1"', 'writer', fifo], { stdio: 'ignore' });
    try {
      expect(refusal(fifo).issues[0]!.message).toContain('larger than the 1 MiB');
    } finally {
      writer.kill('SIGKILL');
      await new Promise((resolve) => writer.once('exit', resolve));
    }
  });

  test('a spec that arrives through a pipe loads like a file', async () => {
    const fifo = path.join(tmp, 'spec.fifo');
    execFileSync('mkfifo', [fifo]);
    const source = path.join(tmp, 'source.yaml');
    writeFileSync(source, MINIMAL);
    const writer = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'writer', source, fifo], { stdio: 'ignore' });
    try {
      expect(loadSpecFile(fifo).spec.name).toBe('claims-severity');
    } finally {
      await new Promise((resolve) => (writer.exitCode !== null ? resolve(undefined) : writer.once('exit', resolve)));
    }
  });

  test('a folder is refused in one line', () => {
    expect(refusal(tmp).format()).toBe(`${tmp}: cannot read the spec file: it is a folder; give the spec file inside it`);
  });

  test('UTF-16 is refused with the fix', () => {
    const file = path.join(tmp, 'utf16.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(MINIMAL, 'utf16le')]));
    expect(refusal(file).issues[0]).toMatchObject({ path: '', line: 1, column: 1, message: expect.stringMatching(/not UTF-8.*looks like UTF-16: save it as UTF-8/) });
  });

  test('invalid UTF-8 is located by line and column', () => {
    const file = path.join(tmp, 'latin1.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from(`${MINIMAL}description: caf`), Buffer.from([0xe9, 0x0a])]));
    expect(refusal(file).issues[0]).toMatchObject({ path: '', line: 11, column: 17, message: expect.stringContaining('byte 0xe9') });
  });

  test('overlong and surrogate encodings are not UTF-8', () => {
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const file = path.join(tmp, 'bad.yaml');
      writeFileSync(file, Buffer.concat([Buffer.from(MINIMAL), Buffer.from('description: "'), Buffer.from(bad), Buffer.from('"\n')]));
      expect(refusal(file).issues[0]!.message).toContain('not UTF-8');
    }
  });

  test('a UTF-8 byte order mark is accepted, in YAML and in JSON', () => {
    const yamlFile = path.join(tmp, 'bom.yaml');
    writeFileSync(yamlFile, `\ufeff${MINIMAL}description: café crème\n`);
    expect(loadSpecFile(yamlFile).spec.description).toBe('café crème');
    const jsonFile = path.join(tmp, 'bom.json');
    writeFileSync(jsonFile, `\ufeff${JSON.stringify(loadSpecFile(yamlFile).spec)}`);
    expect(loadSpecFile(jsonFile).spec.name).toBe('claims-severity');
  });
});

describe('the build context', () => {
  /** A context folder with a Dockerfile and program/, and a spec beside it. */
  function context(dockerfile = 'Dockerfile'): { dir: string; spec: string } {
    const dir = path.join(tmp, 'model');
    mkdirSync(path.join(dir, 'program'), { recursive: true });
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(path.join(dir, 'program', 'serve'), '#!/bin/sh\n');
    const spec = path.join(tmp, 'pipeline.yaml');
    writeFileSync(spec, MINIMAL.replace('  uri: registry.example.com/claims-severity:1', `  context: ./model\n  dockerfile: ${dockerfile}`));
    return { dir, spec };
  }

  test('a context whose links stay inside it loads', () => {
    const { dir, spec } = context();
    symlinkSync('serve', path.join(dir, 'program', 'serve-again'));
    symlinkSync('../Dockerfile', path.join(dir, 'program', 'Dockerfile.link'));
    symlinkSync('missing-but-inside', path.join(dir, 'program', 'dangling'));
    expect(loadSpecFile(spec).spec.image.context).toBe(dir);
  });

  test('program/train linked to a file outside the context is refused, naming image.context and the link', () => {
    const { dir, spec } = context();
    writeFileSync(path.join(tmp, 'outside-train'), '#!/bin/sh\n');
    symlinkSync(path.join(tmp, 'outside-train'), path.join(dir, 'program', 'train'));
    const [issue] = refusal(spec).issues;
    expect(issue).toMatchObject({ path: 'image.context', found: '"program/train"' });
    expect(issue!.message).toContain(`program/train is a symbolic link to ${path.join(tmp, 'outside-train')}, outside the build context`);
    expect(issue!.message).toContain("content hash would not cover it");
  });

  test('a relative link that climbs out, and a dangling one, are refused too', () => {
    const { dir, spec } = context();
    symlinkSync('../../../etc/passwd', path.join(dir, 'program', 'train'));
    symlinkSync('../../nowhere', path.join(dir, 'program', 'dangling'));
    const found = refusal(spec).issues.map((i) => i.found).sort();
    expect(found).toEqual(['"program/dangling"', '"program/train"']);
  });

  test('a link that loops is refused', () => {
    const { dir, spec } = context();
    symlinkSync('loop', path.join(dir, 'program', 'loop'));
    expect(refusal(spec).issues[0]!.message).toContain('program/loop is a symbolic link that loops back on itself');
  });

  test('a link to a folder that holds it is refused (a copy would never end)', () => {
    const { dir, spec } = context();
    symlinkSync('..', path.join(dir, 'program', 'up'));
    expect(refusal(spec).issues[0]!.message).toContain('a folder that holds the link itself');
  });

  test('a Dockerfile linked from outside the context is refused, naming image.dockerfile', () => {
    const { dir, spec } = context('Dockerfile.outside');
    writeFileSync(path.join(tmp, 'Dockerfile.elsewhere'), 'FROM scratch\n');
    symlinkSync(path.join(tmp, 'Dockerfile.elsewhere'), path.join(dir, 'Dockerfile.outside'));
    const issues = refusal(spec).issues;
    expect(issues[0]).toMatchObject({ path: 'image.dockerfile', message: expect.stringContaining('outside the build context') });
  });

  test('links in node_modules and .git are not part of an image and are not judged', () => {
    const { dir, spec } = context();
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync('/etc/passwd', path.join(dir, 'node_modules', 'outside'));
    expect(loadSpecFile(spec).spec.image.context).toBe(dir);
  });
});

describe('local training data', () => {
  function withData(): { data: string; spec: PipelineSpec } {
    const data = path.join(tmp, 'data', 'train');
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, 'part-0.csv'), 'a,b\n1,2\n');
    const specFile = path.join(tmp, 'pipeline.yaml');
    writeFileSync(specFile, MINIMAL.replace('s3://champ-data/train/', 'file://./data/train'));
    return { data, spec: loadSpecFile(specFile).spec };
  }

  test('a data folder with plain files and inner links passes', () => {
    const { data, spec } = withData();
    symlinkSync('part-0.csv', path.join(data, 'latest.csv'));
    expect(checkLocalInputs(spec)).toEqual([]);
  });

  test('a self-referencing link in the data folder is refused before anything is copied', () => {
    const { data, spec } = withData();
    symlinkSync('.', path.join(data, 'self'));
    expect(checkLocalInputs(spec)).toEqual([
      expect.objectContaining({ path: 'training.inputs[0].uri', message: expect.stringContaining('self is a symbolic link to') }),
    ]);
  });

  test('a link out of the data folder is refused', () => {
    const { data, spec } = withData();
    symlinkSync('/etc/passwd', path.join(data, 'passwd.csv'));
    expect(checkLocalInputs(spec)[0]!.message).toContain('passwd.csv is a symbolic link to /etc/passwd, outside');
  });

  test('a data folder that is itself a link to the data is fine', () => {
    const real = path.join(tmp, 'datasets', 'train');
    mkdirSync(real, { recursive: true });
    writeFileSync(path.join(real, 'part-0.csv'), 'a\n1\n');
    mkdirSync(path.join(tmp, 'data'));
    symlinkSync(real, path.join(tmp, 'data', 'train'));
    const specFile = path.join(tmp, 'pipeline.yaml');
    writeFileSync(specFile, MINIMAL.replace('s3://champ-data/train/', 'file://./data/train'));
    expect(checkLocalInputs(loadSpecFile(specFile).spec)).toEqual([]);
  });
});
