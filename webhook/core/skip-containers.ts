// `<prefix>/skip-containers`: a comma-separated list of container names, read as one CSV record
// like the reference (quotes allowed). Unlike the reference, names are trimmed, so "a, b" skips b.

export function parseSkipContainers(text: string): { names: Set<string>; error: string | undefined } {
  const names = new Set<string>();
  if (text.trim() === '') return { names, error: 'empty value' };
  let field = '';
  let quoted = false;
  let inQuotes = false;
  const finish = (): void => {
    const name = quoted ? field : field.trim();
    if (name !== '') names.add(name);
    field = '';
    quoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') inQuotes = false;
      else field += c;
    } else if (c === '"') {
      if (field.trim() !== '') return { names: new Set(), error: `bare " in an unquoted field at position ${i + 1}` };
      field = '';
      inQuotes = true;
      quoted = true;
    } else if (c === ',') finish();
    else if (c === '\n' || c === '\r') break; // first record only
    else field += c;
  }
  if (inQuotes) return { names: new Set(), error: 'unterminated quoted field' };
  finish();
  return { names, error: undefined };
}
