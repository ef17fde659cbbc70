/**
 * Generated HTTP/1.1 requests for the framing property test: each is valid (and says what a correct
 * proxy must forward: method, target, body) or carries one defect RFC 9112 makes fatal (so a correct
 * proxy forwards nothing from it on). Requests are tagged with `X-Seq` so the origin's view and the
 * client's responses can be matched to them.
 */
import fc from 'fast-check';

export interface ModelRequest {
  bytes: string;
  /** What must reach the upstream; undefined when the request is defective (nothing from it on may). */
  expect?: { method: string; target: string; body: string };
  /** The defect or variation used, for failure messages. */
  label: string;
}

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const fieldValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const pathSegment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
const target = fc.tuple(fc.array(pathSegment, { minLength: 1, maxLength: 3 }), fc.option(fc.stringMatching(/^[a-z0-9=&]{1,10}$/), { nil: undefined }))
  .map(([segs, q]) => `/${segs.join('/')}${q ? `?${q}` : ''}`);
const bodyText = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
/** Extra header fields (never ones that change framing or routing). */
const extraFields = fc.array(fc.tuple(token, fieldValue), { maxLength: 3 })
  .map((fs) => fs.filter(([n]) => !/^(host|content-length|transfer-encoding|connection|x-seq|upgrade|te|trailer|expect|via|keep-alive|proxy-.*|x-forwarded-.*|forwarded|x-real-ip|x-request-id)$/i.test(n)));

/** A chunked encoding of `body` split at random points, with optional extensions and a trailer. */
const chunked = (body: string) => fc.tuple(
  fc.array(fc.nat({ max: 40 }), { maxLength: 3 }), fc.boolean(), fc.boolean(),
).map(([cuts, ext, trailer]) => {
  const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let at = 0;
  for (const p of [...points, body.length]) { if (p > at) pieces.push(body.slice(at, p)); at = Math.max(at, p); }
  const e = ext ? ';name=value' : '';
  return `${pieces.map((p) => `${p.length.toString(16)}${e}\r\n${p}\r\n`).join('')}0\r\n${trailer ? 'X-Trailer: t\r\n' : ''}\r\n`;
});

/** A valid request, as bytes plus what must be forwarded. */
function validRequest(seq: number): fc.Arbitrary<ModelRequest> {
  return fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), target, bodyText, fc.constantFrom('none', 'length', 'chunked', 'Chunked'), extraFields)
    .chain(([method, path, body, framing, extra]) => {
      const fields = extra.map(([n, v]) => `${n}: ${v}\r\n`).join('');
      const head = (framingLines: string) => `${method} ${path} HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${seq}\r\n${fields}${framingLines}\r\n`;
      if (framing === 'none') return fc.constant({ bytes: head(''), expect: { method, target: path, body: '' }, label: `valid ${method} no body` });
      if (framing === 'length') {
        return fc.constant({ bytes: head(`Content-Length: ${body.length}\r\n`) + body, expect: { method, target: path, body }, label: `valid ${method} length` });
      }
      return chunked(body).map((encoded) => ({ bytes: head(`Transfer-Encoding: ${framing}\r\n`) + encoded, expect: { method, target: path, body }, label: `valid ${method} ${framing}` }));
    });
}

/** One fatal defect applied to a request (head or body). Those marked reverse-only are valid in forward mode. */
const DEFECTS: [string, (seq: number) => string, 'reverse-only'?][] = [
  ['CL and TE', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ['TE and CL', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`],
  ['two Content-Lengths', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx`],
  ['Content-Length list', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nContent-Length: 2, 2\r\n\r\nxx`],
  ['signed Content-Length', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nContent-Length: +2\r\n\r\nxx`],
  ['hex Content-Length', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nContent-Length: 0x2\r\n\r\nxx`],
  ['TE gzip only', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: gzip\r\n\r\nxx`],
  ['TE chunked twice', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`],
  ['TE chunked then gzip', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`],
  ['TE xchunked', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`],
  ['TE with a vertical tab', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n`],
  ['bad chunk size', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n`],
  ['negative chunk size', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n`],
  ['chunk size overflow', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n`],
  ['chunk longer than its size', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxyz\r\n0\r\n\r\n`],
  ['chunk size with bare LF', (s) => `POST /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nTransfer-Encoding: chunked\r\n\r\n2\nxx\r\n0\r\n\r\n`],
  ['bare LF head', (s) => `GET /d HTTP/1.1\nHost: app.test\nX-Seq: ${s}\n\n`],
  ['space before colon', (s) => `GET /d HTTP/1.1\r\nHost : app.test\r\nX-Seq: ${s}\r\n\r\n`],
  ['obs-fold', (s) => `GET /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nX-F: a\r\n b\r\n\r\n`],
  ['NUL in a value', (s) => `GET /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nX-N: a\x00b\r\n\r\n`],
  ['CR in a value', (s) => `GET /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nX-N: a\rb\r\n\r\n`],
  ['control in a name', (s) => `GET /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\nX\x01N: a\r\n\r\n`],
  ['no version', (s) => `GET /d\r\nHost: app.test\r\nX-Seq: ${s}\r\n\r\n`],
  ['HTTP/2.0', (s) => `GET /d HTTP/2.0\r\nHost: app.test\r\nX-Seq: ${s}\r\n\r\n`],
  ['HTTP/1.2', (s) => `GET /d HTTP/1.2\r\nHost: app.test\r\nX-Seq: ${s}\r\n\r\n`],
  ['no Host', (s) => `GET /d HTTP/1.1\r\nX-Seq: ${s}\r\n\r\n`, 'reverse-only'],
  ['two Hosts', (s) => `GET /d HTTP/1.1\r\nHost: app.test\r\nHost: other.test\r\nX-Seq: ${s}\r\n\r\n`],
  ['bad Host', (s) => `GET /d HTTP/1.1\r\nHost: a b\r\nX-Seq: ${s}\r\n\r\n`],
  ['space in the target', (s) => `GET /d x HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\n\r\n`],
  ['bad escape in the path', (s) => `GET /d%zz HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\n\r\n`, 'reverse-only'],
  ['lower-case method', (s) => `get /d HTTP/1.1\r\nHost: app.test\r\nX-Seq: ${s}\r\n\r\n`],
];

function defectiveRequest(seq: number, mode: 'reverse' | 'forward'): fc.Arbitrary<ModelRequest> {
  return fc.constantFrom(...DEFECTS.filter((d) => mode === 'reverse' || d[2] !== 'reverse-only')).map(([label, make]) => ({ bytes: make(seq), label }));
}

/**
 * 1–4 pipelined requests, each valid or (one time in three) defective. For a forward listener the
 * test rewrites targets to absolute form and Host to the origin's authority.
 */
export const pipelines = (mode: 'reverse' | 'forward'): fc.Arbitrary<ModelRequest[]> => fc.integer({ min: 1, max: 4 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, seq) => fc.oneof({ weight: 2, arbitrary: validRequest(seq) }, { weight: 1, arbitrary: defectiveRequest(seq, mode) }))));
