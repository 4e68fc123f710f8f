// Tiny bring-your-own-container build contexts for the runtime's tests.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';

/**
 * train: behaviour chosen by the `mode` hyperparameter:
 *   ok      prints loss lines, writes model/model.txt (channel data + hyperparameters)
 *   fail    writes output/failure and exits 1
 *   crash   prints to stderr and exits 3 without output/failure
 *   sleep   prints, then sleeps for a minute
 *   snoop   reads the environment of every process it can see (/proc/1, its parent, all of /proc)
 *           and fails with a reason listing each credential-like variable found, as a hostile program would
 * With USE_OPT_ML=1 it writes through the literal /opt/ml path (namespace mode proof).
 */
export const TRAIN_PY = `#!/usr/bin/env python3
import json, os, sys, time
cfg = os.environ['SM_INPUT_CONFIG_DIR']
hps = json.load(open(os.path.join(cfg, 'hyperparameters.json')))
mode = hps.get('mode', 'ok')
opt_ml = '/opt/ml' if os.environ.get('USE_OPT_ML') == '1' else None
model_dir = os.path.join(opt_ml, 'model') if opt_ml else os.environ['SM_MODEL_DIR']
out_dir = os.path.join(opt_ml, 'output') if opt_ml else os.environ['SM_OUTPUT_DIR']
print('starting mode=' + mode + ' argv=' + ' '.join(sys.argv[1:]), flush=True)
if mode == 'ok':
    data = ''
    for ch in json.loads(os.environ['SM_CHANNELS']):
        d = os.environ['SM_CHANNEL_' + ch.upper()]
        for name in sorted(os.listdir(d)):
            data += open(os.path.join(d, name)).read().strip()
    for step, loss in enumerate([0.9, 0.7, 0.5]):
        print('epoch=%d loss=%s' % (step, loss), flush=True)
    print('validation:rmse=0.25', file=sys.stderr, flush=True)
    with open(os.path.join(model_dir, 'model.txt'), 'w') as f:
        f.write('data=' + data + ';alpha=' + hps.get('alpha', '?'))
    rc = json.load(open(os.path.join(cfg, 'resourceconfig.json')))
    with open(os.path.join(model_dir, 'host.txt'), 'w') as f:
        f.write(rc['current_host'])
    sys.exit(0)
if mode == 'fail':
    with open(os.path.join(out_dir, 'failure'), 'w') as f:
        f.write('bad hyperparameter alpha: must be positive')
    sys.exit(1)
if mode == 'crash':
    print('Traceback: something broke deep inside', file=sys.stderr, flush=True)
    sys.exit(3)
if mode == 'sleep':
    print('sleeping', flush=True)
    time.sleep(60)
if mode == 'snoop':
    import re
    # Its parent first, then PID 1: a reason is cut at 1024 characters.
    first = [str(os.getppid()), '1']
    pids = first + sorted(p for p in os.listdir('/proc') if p.isdigit() and p not in first)
    read, found = 0, []
    for pid in pids:
        try:
            env = open('/proc/%s/environ' % pid, 'rb').read().decode('utf8', 'replace').split('\\0')
        except OSError:
            continue
        read += 1
        for var in env:
            name = var.split('=', 1)[0]
            if re.search(r'^AWS_(?!REGION$|DEFAULT_REGION$)|SECRET|TOKEN|PASSWORD|CREDENTIAL|CANARY', name):
                found.append('pid %s: %s' % (pid, var))
    with open(os.path.join(out_dir, 'failure'), 'w') as f:
        f.write('snooped %d processes (me %d, parent %d); found: %s' % (read, os.getpid(), os.getppid(), ' | '.join(found) or 'nothing'))
    sys.exit(1)
`;

/**
 * serve: GET /ping 200; POST /invocations answers "<model.txt>|<body>" with the
 * request's Accept as content type. SERVE_MODE=never: /ping always 503.
 * SERVE_DELAY_MS: time each invocation takes (keeps requests in flight during a switch).
 */
export const SERVE_PY = `#!/usr/bin/env python3
import os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
model_dir = os.environ['SM_MODEL_DIR'] if os.environ.get('USE_OPT_ML') != '1' else '/opt/ml/model'
model = open(os.path.join(model_dir, 'model.txt')).read() if os.path.exists(os.path.join(model_dir, 'model.txt')) else 'no-model'
never = os.environ.get('SERVE_MODE') == 'never'
delay = float(os.environ.get('SERVE_DELAY_MS', '0')) / 1000
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # Headers and body in one segment: separate small writes meet Nagle and delayed ACKs (40 ms each).
    disable_nagle_algorithm = True
    wbufsize = -1
    def log_message(self, *a):
        pass
    def reply(self, code, body, ctype='text/plain'):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == '/ping':
            self.reply(503 if never else 200, b'warming up' if never else b'ok')
        else:
            self.reply(404, b'not found')
    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n)
        if delay:
            time.sleep(delay)
        if self.headers.get('Content-Type') == 'application/unsupported':
            self.reply(415, b'unsupported content type')
            return
        self.reply(200, model.encode() + b'|' + body, self.headers.get('Accept') or 'text/plain')
host = os.environ.get('SAGEMAKER_BIND_HOST', '0.0.0.0')
port = int(os.environ.get('SAGEMAKER_BIND_TO_PORT', '8080'))
print('serving model=%s on %s:%d' % (model, host, port), flush=True)
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((host, port), H).serve_forever()
`;

/** A build context with program/train and program/serve. */
export async function writeContext(dir: string, extra: Record<string, string> = {}): Promise<string> {
  await fsp.mkdir(path.join(dir, 'program'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'program', 'train'), TRAIN_PY, { mode: 0o755 });
  await fsp.writeFile(path.join(dir, 'program', 'serve'), SERVE_PY, { mode: 0o755 });
  for (const [rel, content] of Object.entries(extra)) {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), content);
  }
  return dir;
}

/** A model.tar.gz holding model.txt with `content`; returns its file:// URI. */
export async function writeModelArchive(dir: string, content: string): Promise<string> {
  const src = path.join(dir, `model-src-${content.replace(/[^a-z0-9]/gi, '')}`);
  await fsp.mkdir(src, { recursive: true });
  await fsp.writeFile(path.join(src, 'model.txt'), content);
  const file = path.join(dir, `model-${content.replace(/[^a-z0-9]/gi, '')}.tar.gz`);
  await tar.c({ gzip: true, file, cwd: src }, ['model.txt']);
  return `file://${file}`;
}
