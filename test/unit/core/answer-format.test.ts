import { expect } from 'chai';
import { escapeHtml, prefersHtml } from '../../../src/core/answer-format.js';
import { errorResponseParts } from '../../../src/core/error-response.js';
import { ProxyError } from '../../../src/core/errors.js';

const header = (headers: string[], name: string) => headers[headers.indexOf(name) + 1];

describe('core/answer-format: HTML for clients that prefer it, text otherwise', () => {
  it('prefers HTML only when text/html ranks above text/plain', () => {
    const browser = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
    expect(prefersHtml(browser)).to.equal(true);
    expect(prefersHtml('text/html')).to.equal(true);
    expect(prefersHtml('TEXT/HTML;q=0.5, */*;q=0.1')).to.equal(true);
    expect(prefersHtml(undefined)).to.equal(false); // no Accept: curl's default is */*
    expect(prefersHtml('*/*')).to.equal(false);
    expect(prefersHtml('application/json')).to.equal(false);
    expect(prefersHtml('text/plain, text/html')).to.equal(false);
    expect(prefersHtml('text/*;q=0.9, text/plain;q=0.1')).to.equal(true);
    expect(prefersHtml('text/html;q=0, */*')).to.equal(false);
    expect(prefersHtml('text/html;q=bad')).to.equal(false);
  });

  it('writes an escaped HTML page naming the status, facts and request id, or the text body', () => {
    const err = new ProxyError('denied', 'acl: <script>alert("x")</script>');
    const html = errorResponseParts(err, 'req-1&2', { accept: 'text/html', message: 'Denied.', facts: [['Rule', '<b>r</b>']], nodeId: "gh'1" });
    const page = html.body.toString();
    expect(header(html.headers, 'content-type')).to.equal('text/html; charset=utf-8');
    expect(header(html.headers, 'cache-control')).to.equal('no-store');
    expect(header(html.headers, 'content-security-policy')).to.equal("default-src 'none'");
    expect(Number(header(html.headers, 'content-length'))).to.equal(html.body.length);
    expect(page).to.include('<title>403 Forbidden</title>').and.include('&lt;b&gt;r&lt;/b&gt;').and.include('req-1&amp;2').and.include('gh&#39;1');
    expect(page).to.not.include('<script>').and.not.include('<b>');
    const text = errorResponseParts(err, 'req-1', { accept: '*/*', message: 'Denied.' });
    expect(header(text.headers, 'content-type')).to.equal('text/plain; charset=utf-8');
    expect(text.body.toString()).to.equal('403 Forbidden: acl: <script>alert("x")</script>\nrequest id: req-1\n');
    expect(escapeHtml(`&<>"'`)).to.equal('&amp;&lt;&gt;&quot;&#39;');
  });
});
