// dist/codicons holds only the codicons the webviews use: their names are read from the webview sources, and the
// subset font draws each of them exactly as @vscode/codicons' full font does.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import { codiconGlyphs, iconNamesIn, readCodicons, writeCodiconSubset } from '../../../scripts/codicons.mjs';
import { repoRoot } from '../../../scripts/paths.mjs';

const root = repoRoot();
const codicons = readCodicons(root);
const glyphs = codiconGlyphs(codicons.css);
const webviewDir = path.join(root, 'webview');
const webviewSources = fs
  .readdirSync(webviewDir)
  .filter((name) => name.endsWith('.ts'))
  .map((name) => path.join(webviewDir, name));

/**
 * The string literals the webview sources give as icons: icon('…') arguments, `icon: '…'` properties, and the values
 * of icon tables (KIND_ICONS, questionIcon, …).
 */
function iconLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const literalsIn = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node)) found.push(node.text);
    else if (ts.isObjectLiteralExpression(node)) for (const property of node.properties) if (ts.isPropertyAssignment(property)) literalsIn(property.initializer);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'icon') literalsIn(node.arguments[0]);
    if (ts.isPropertyAssignment(node) && node.name.getText(source) === 'icon') literalsIn(node.initializer);
    if (ts.isVariableDeclaration(node) && /icon/i.test(node.name.getText(source)) && node.initializer) literalsIn(node.initializer);
    if (ts.isFunctionDeclaration(node) && /icon/i.test(node.name?.text ?? '')) {
      node.body?.forEachChild((statement) => {
        if (ts.isReturnStatement(statement) && statement.expression) {
          const returned = ts.isElementAccessExpression(statement.expression) ? statement.expression.expression : statement.expression;
          literalsIn(returned);
        }
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('the codicons the webviews use', () => {
  test('are read from string literals: whole words, with or without the codicon- prefix; not from comments or names', () => {
    const sample = [
      "// the gear icon: 'gear'",
      "const KIND_ICONS = { agent: 'hubot', file: 'diff' };",
      "button('Go', { icon: 'check' }, go);",
      "el.append(icon('warning'));",
      "const spinning = 'loading codicon-modifier-spin';",
      'const markup = `<span class="codicon codicon-beaker"></span>${x}<i class="codicon codicon-${name}"></i>`;',
      'const account = 1;',
      "const text = 'Nothing to see';",
    ].join('\n');
    assert.deepEqual([...iconNamesIn(sample, glyphs)].sort(), ['beaker', 'check', 'diff', 'hubot', 'loading', 'warning']);
  });

  test('are named whole in the sources: only icon() in dom.ts makes a class out of a name', () => {
    for (const file of webviewSources) {
      const text = fs.readFileSync(file, 'utf8');
      const built = [...text.matchAll(/codicon-\$\{/g)];
      if (path.basename(file) === 'dom.ts') assert.equal(built.length, 1, 'icon() builds the class');
      else assert.deepEqual(built, [], `${path.basename(file)} builds a codicon class from parts; name the icon whole so the build finds it`);
    }
  });

  test('are all codicons (a misspelt name would show nothing)', () => {
    const named = webviewSources.flatMap(iconLiterals);
    assert.ok(named.length >= 30, `found the icon literals (${named.length})`);
    for (const literal of named) {
      const [name, ...modifiers] = literal.split(' ');
      assert.ok(glyphs.has(name), `"${name}" is a codicon`);
      for (const modifier of modifiers) assert.match(modifier, /^codicon-modifier-/);
    }
  });
});

describe('dist/codicons', () => {
  let dir: string;
  let written: Awaited<ReturnType<typeof writeCodiconSubset>>;
  let css: string;
  let font: Buffer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-codicons-'));
    written = await writeCodiconSubset(root, webviewSources, dir);
    css = fs.readFileSync(path.join(dir, 'codicon.css'), 'utf8');
    font = fs.readFileSync(path.join(dir, 'codicon.ttf'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('has a rule for every icon the webviews name, and only for the icons found in their sources', () => {
    const named = new Set(webviewSources.flatMap(iconLiterals).map((literal) => literal.split(' ')[0]));
    const ruled = [...codiconGlyphs(css).keys()].sort();
    assert.deepEqual(ruled, written.icons);
    for (const name of named) assert.ok(ruled.includes(name), `${name} has a rule`);
    assert.ok(ruled.length < 80, `a subset (${ruled.length} of ${glyphs.size})`);
  });

  test('keeps the font face, the base rule and the spin modifier, and versions the font URL by its content', () => {
    const hash = createHash('md5').update(font).digest('hex');
    assert.match(css, new RegExp(`src: url\\("\\./codicon\\.ttf\\?${hash}"\\) format\\("truetype"\\)`));
    assert.match(css, /\.codicon\[class\*='codicon-'\] \{\n\tfont: normal normal normal 16px\/1 codicon;/);
    assert.match(css, /\.codicon-loading\.codicon-modifier-spin/);
    assert.match(css, /@keyframes codicon-spin/);
    assert.match(css, /Copyright \(c\) Microsoft Corporation/);
  });

  test('draws each icon exactly as the full font does', async () => {
    const hb = await import('harfbuzzjs');
    const fontOf = (data: Buffer) => new hb.Font(new hb.Face(new hb.Blob(data)));
    const full = fontOf(codicons.ttf);
    const subset = fontOf(font);
    for (const name of written.icons) {
      const codePoint = glyphs.get(name)!;
      const [inFull, inSubset] = [full.nominalGlyph(codePoint), subset.nominalGlyph(codePoint)];
      assert.ok(inSubset, `${name} (U+${codePoint.toString(16)}) is in the subset`);
      assert.equal(subset.glyphToPath(inSubset), full.glyphToPath(inFull!), `${name} has the same outline`);
      assert.equal(subset.glyphHAdvance(inSubset), full.glyphHAdvance(inFull!), `${name} has the same width`);
    }
    assert.ok(font.length < codicons.ttf.length / 5, `the font is cut down (${font.length} of ${codicons.ttf.length} bytes)`);
  });
});
