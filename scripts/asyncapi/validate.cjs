// Parses an AsyncAPI document with @asyncapi/parser, resolving its relative
// $refs from the file system, prints every diagnostic and exits 1 when any
// is an error (or the document could not be parsed). Run by
// scripts/asyncapi-validate.sh, which installs the parser beside this file.
'use strict';
const path = require('path');
const { Parser, fromFile } = require('@asyncapi/parser');

const severities = ['error', 'warning', 'info', 'hint'];

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node validate.cjs <asyncapi document>');
    return 2;
  }
  const source = path.resolve(file);
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, source).parse({
    validateOptions: { allowedSeverity: { error: false, warning: true, info: true, hint: true } },
  });
  let errors = 0;
  for (const d of diagnostics) {
    const severity = severities[d.severity] || String(d.severity);
    if (d.severity === 0) errors++;
    const where = (d.path || []).join('.');
    const line = d.range ? `:${d.range.start.line + 1}` : '';
    console.log(`${severity}: ${d.code}: ${d.message} (${path.relative(process.cwd(), d.source || source)}${line} ${where})`);
  }
  if (!document || errors > 0) {
    console.error(`${file}: ${errors} error(s)${document ? '' : ', not parsed'}`);
    return 1;
  }
  const messages = document.allMessages();
  for (const m of messages) {
    const payload = JSON.stringify(m.payload() ? m.payload().json() : null);
    if (payload.includes('"$ref"')) {
      console.error(`${file}: message ${m.id()}: payload $ref not resolved`);
      return 1;
    }
  }
  console.log(`${file}: AsyncAPI ${document.version()}, ${document.channels().length} channels, ${document.operations().length} operations, ${messages.length} messages, ${diagnostics.length} diagnostic(s), no error`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
