/**
 * `/docs`: the OpenAPI document as one readable HTML page, rendered on the server (no script, nothing
 * from another origin). Schemas are shown as compact TypeScript-like types with links to named ones.
 */
import type { OpenApiDocument } from './openapi-document.js';
import { documentedPath } from './openapi-operations.js';

type Json = Record<string, unknown>;

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `code` spans for text between backticks; everything else escaped. */
function prose(text: string): string {
  return escape(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** A schema or document value as text (they are strings, numbers or booleans where text is shown). */
function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function anchor(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function bounds(schema: Json, min: string, max: string, unit = ''): string {
  const lo = schema[min];
  const hi = schema[max];
  if (lo === undefined && hi === undefined) return '';
  if (lo !== undefined && hi !== undefined)
    return ` <span class="doc-note">${text(lo)}–${text(hi)}${unit}</span>`;
  return lo !== undefined
    ? ` <span class="doc-note">≥ ${text(lo)}${unit}</span>`
    : ` <span class="doc-note">≤ ${text(hi)}${unit}</span>`;
}

/** A schema as a type expression (HTML). */
export function renderSchema(schema: unknown, depth = 0): string {
  if (typeof schema !== 'object' || schema === null) return 'any';
  const s = schema as Json;
  const pad = '  '.repeat(depth + 1);
  if (typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() ?? s.$ref;
    return `<a href="#schema-${anchor(name)}">${escape(name)}</a>`;
  }
  if (Array.isArray(s.anyOf)) return s.anyOf.map((branch) => renderSchema(branch, depth)).join(' | ');
  if ('const' in s) return `<span class="doc-literal">${escape(JSON.stringify(s.const))}</span>`;
  switch (s.type) {
    case 'string':
      return `string${s.format ? ` <span class="doc-note">${escape(text(s.format))}</span>` : ''}${bounds(s, 'minLength', 'maxLength', ' chars')}`;
    case 'integer':
    case 'number':
      return `${s.type}${bounds(s, 'minimum', 'maximum')}`;
    case 'boolean':
    case 'null':
      return s.type;
    case 'array': {
      const inner = renderSchema(s.items, depth);
      const wrapped = inner.includes(' | ') ? `(${inner})` : inner;
      return `${wrapped}[]${bounds(s, 'minItems', 'maxItems', ' entries')}`;
    }
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const required = new Set((s.required ?? []) as string[]);
      const names = Object.keys(properties);
      const open = s.additionalProperties !== false;
      if (names.length === 0) return open ? 'object' : '{}';
      const lines = names.map(
        (name) =>
          `${pad}${escape(name)}${required.has(name) ? '' : '?'}: ${renderSchema(properties[name], depth + 1)}`,
      );
      if (open) lines.push(`${pad}<span class="doc-note">…other properties</span>`);
      return `{\n${lines.join(',\n')}\n${'  '.repeat(depth)}}`;
    }
    default:
      return 'any';
  }
}

function isAlias(path: string): boolean {
  return documentedPath(path).alias !== undefined;
}

function authLine(operation: Json): string {
  const security = operation.security as unknown[] | undefined;
  if (security && security.length === 0) return 'Public: no API key.';
  const scope = operation['x-safekeep-scope'];
  return typeof scope === 'string'
    ? `API key with the <code>${escape(scope)}</code> scope (or one that implies it).`
    : 'Any valid API key.';
}

function renderParameters(parameters: Json[]): string {
  if (parameters.length === 0) return '';
  const rows = parameters
    .map(
      (p) =>
        `<tr><td><code>${escape(text(p.name))}</code>${p.required ? '' : '?'}</td><td>${escape(text(p.in))}</td>` +
        `<td><pre class="doc-type">${renderSchema(p.schema)}</pre></td><td>${prose(text(p.description))}</td></tr>`,
    )
    .join('');
  return `<table class="doc-params"><thead><tr><th scope="col">parameter</th><th scope="col">in</th><th scope="col">type</th><th scope="col">meaning</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function contentSchema(content: unknown): unknown {
  const media = Object.values((content ?? {}) as Record<string, { schema?: unknown }>)[0];
  return media?.schema;
}

function renderOperation(method: string, path: string, operation: Json, aliases: string[]): string {
  const id = text(operation.operationId);
  const body = operation.requestBody as Json | undefined;
  const ok = (operation.responses as Record<string, Json>)['200'];
  const okSchema = contentSchema(ok?.content);
  return `<section class="doc-op" id="op-${anchor(id)}" aria-labelledby="op-${anchor(id)}-title">
<h3 id="op-${anchor(id)}-title"><span class="doc-method doc-${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
<p>${prose(text(operation.summary))}. <span class="doc-note">${authLine(operation)}</span></p>
${operation.description ? `<p>${prose(text(operation.description))}</p>` : ''}
${aliases.length > 0 ? `<p class="doc-note">Also at ${aliases.map((a) => `<code>${escape(a)}</code>`).join(', ')} (the path the Wix SDK uses).</p>` : ''}
${renderParameters((operation.parameters ?? []) as Json[])}
${body ? `<h4>Request body${body.required ? '' : ' (optional)'}</h4><pre class="doc-type">${renderSchema(contentSchema(body.content))}</pre>` : ''}
<h4>Answer</h4><pre class="doc-type">${okSchema ? renderSchema(okSchema) : escape(ok ? text(ok.description) || 'OK' : 'None: always refused (400)')}</pre>
<p class="doc-note">Refusals: <a href="#schema-ErrorResponse">ErrorResponse</a>.</p>
</section>`;
}

/** The whole page. */
export function renderDocsPage(doc: OpenApiDocument): string {
  const info = doc.info as { title: string; version: string; description: string };
  // Aliases are listed under their documented operation, not on their own.
  const aliasesOf = new Map<string, string[]>();
  const byTag = new Map<string, string[]>();
  const toc = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (!isAlias(path)) continue;
    for (const method of Object.keys(methods)) {
      const key = `${method} ${documentedPath(path).path}`;
      aliasesOf.set(key, [...(aliasesOf.get(key) ?? []), path]);
    }
  }
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (isAlias(path)) continue;
    for (const [method, operation] of Object.entries(methods)) {
      const tag = ((operation.tags as string[] | undefined) ?? ['Service'])[0] ?? 'Service';
      const id = text(operation.operationId);
      (byTag.get(tag) ?? byTag.set(tag, []).get(tag))?.push(
        renderOperation(method, path, operation, aliasesOf.get(`${method} ${path}`) ?? []),
      );
      (toc.get(tag) ?? toc.set(tag, []).get(tag))?.push(
        `<li><a href="#op-${anchor(id)}"><span class="doc-method doc-${method}">${method.toUpperCase()}</span> ${escape(path)}</a></li>`,
      );
    }
  }
  const sections = (doc.tags as { name: string; description: string }[])
    .filter((t) => byTag.has(t.name))
    .map(
      (t) =>
        `<section aria-labelledby="tag-${anchor(t.name)}"><h2 id="tag-${anchor(t.name)}">${escape(t.name)}</h2><p>${prose(t.description)}</p>${(byTag.get(t.name) ?? []).join('\n')}</section>`,
    )
    .join('\n');
  const contents = (doc.tags as { name: string }[])
    .filter((t) => toc.has(t.name))
    .map(
      (t) =>
        `<li><a href="#tag-${anchor(t.name)}">${escape(t.name)}</a><ul>${(toc.get(t.name) ?? []).join('')}</ul></li>`,
    )
    .join('');
  const schemas = Object.entries((doc.components.schemas ?? {}) as Record<string, Json>)
    .map(
      ([name, schema]) =>
        `<section id="schema-${anchor(name)}" aria-labelledby="schema-${anchor(name)}-title"><h3 id="schema-${anchor(name)}-title">${escape(name)}</h3>${schema.description ? `<p>${prose(text(schema.description))}</p>` : ''}<pre class="doc-type">${renderSchema(schema)}</pre></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)} API ${escape(info.version)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/styles.css">
</head>
<body class="docs">
<a class="skip-link" href="#main">Skip to the reference</a>
<header class="docs-header"><h1>${escape(info.title)} API <span class="doc-note">${escape(info.version)} · OpenAPI ${escape(doc.openapi)}</span></h1>
<p>${prose(info.description)}</p>
<p><a href="/openapi.json">openapi.json</a> · <a href="/">Dashboard</a></p></header>
<nav class="docs-toc" aria-label="Operations"><ul>${contents}<li><a href="#schemas">Schemas</a></li></ul></nav>
<main id="main" class="docs-main">
${sections}
<section id="schemas" aria-labelledby="schemas-title"><h2 id="schemas-title">Schemas</h2>${schemas}</section>
</main>
</body>
</html>
`;
}
