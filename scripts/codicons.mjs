// The codicons the webviews show, and only those: the icon names are read from the string literals of the sources
// bundled into the webviews, and dist/codicons/ gets @vscode/codicons' stylesheet with just their rules and a subset of
// its font with just their glyphs (subset-font, HarfBuzz's subsetter). The whole font is 90 KB; a subset is a few.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import subsetFont from 'subset-font';
import ts from 'typescript';

/** `.codicon-add:before { content: "\ea60" }` */
const GLYPH_RULE = /^\.codicon-([a-z0-9-]+):before \{ content: "\\([0-9a-f]+)" \}$/;
const FONT_URL = /url\("\.\/codicon\.ttf\?[^"]*"\)/;

/**
 * @param {string} root the repository
 * @returns {{ css: string; ttf: Buffer; version: string }}
 */
export function readCodicons(root) {
  const pkg = path.join(root, 'node_modules', '@vscode', 'codicons');
  return {
    css: fs.readFileSync(path.join(pkg, 'dist', 'codicon.css'), 'utf8'),
    ttf: fs.readFileSync(path.join(pkg, 'dist', 'codicon.ttf')),
    version: JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version,
  };
}

/**
 * Every icon in the stylesheet, by name, with its code point (several names can share one glyph).
 * @param {string} css
 * @returns {Map<string, number>}
 */
export function codiconGlyphs(css) {
  const glyphs = new Map();
  for (const line of css.split('\n')) {
    const match = GLYPH_RULE.exec(line.trim());
    if (match) glyphs.set(match[1], parseInt(match[2], 16));
  }
  return glyphs;
}

/**
 * The icon names a TypeScript source can show, from its string literals (templates' literal parts included): a
 * literal that is nothing but icon names and codicon classes (`'warning'`, `'loading codicon-modifier-spin'`), and
 * any `codicon-NAME` class in a longer one (markup). Comments, identifiers and prose do not count; a name built from
 * parts at run time cannot be found, so the sources name icons whole (test/unit/scripts/codicons.test.ts checks that).
 * @param {string} source
 * @param {ReadonlySet<string> | Map<string, number>} names every icon's name
 * @returns {Set<string>}
 */
export function iconNamesIn(source, names) {
  const found = new Set();
  const file = ts.createSourceFile('source.ts', source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const visit = (node) => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      for (const token of node.text.split(/[^A-Za-z0-9-]+/)) {
        if (token.startsWith('codicon-') && names.has(token.slice('codicon-'.length))) found.add(token.slice('codicon-'.length));
      }
      const words = node.text.trim().split(/\s+/);
      if (words.every((word) => names.has(word) || word.startsWith('codicon-'))) for (const word of words) if (names.has(word)) found.add(word);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/**
 * Writes codicon.css and codicon.ttf into `outDir` for the icons that `sources` use; each is rewritten only when it
 * changes (so a watch build does not touch them on every keystroke).
 * @param {string} root the repository
 * @param {string[]} sources paths of the TypeScript files bundled into the webviews
 * @param {string} outDir
 * @returns {Promise<{ icons: string[]; cssBytes: number; fontBytes: number }>}
 */
export async function writeCodiconSubset(root, sources, outDir) {
  const codicons = readCodicons(root);
  const glyphs = codiconGlyphs(codicons.css);
  const used = new Set();
  for (const file of sources) for (const name of iconNamesIn(fs.readFileSync(file, 'utf8'), glyphs)) used.add(name);
  const icons = [...used].sort();
  const codePoints = [...new Set(icons.map((name) => glyphs.get(name)))].sort((a, b) => a - b);
  const font = await subsetFont(codicons.ttf, String.fromCodePoint(...codePoints), { targetFormat: 'truetype' });
  const fontHash = createHash('md5').update(font).digest('hex');
  const css = subsetStylesheet(codicons.css, new Set(icons), fontHash, codicons.version);
  fs.mkdirSync(outDir, { recursive: true });
  writeIfChanged(path.join(outDir, 'codicon.ttf'), font);
  writeIfChanged(path.join(outDir, 'codicon.css'), css);
  return { icons, cssBytes: Buffer.byteLength(css), fontBytes: font.length };
}

/**
 * The stylesheet as @vscode/codicons has it (font face, base rule, modifiers), with the glyph rules of `icons` only,
 * and the font's URL versioned by the subset's hash.
 * @param {string} css
 * @param {ReadonlySet<string>} icons
 * @param {string} fontHash
 * @param {string} version
 */
export function subsetStylesheet(css, icons, fontHash, version) {
  const lines = css.split('\n').filter((line) => {
    const match = GLYPH_RULE.exec(line.trim());
    return !match || icons.has(match[1]);
  });
  const note = `/* @vscode/codicons ${version} (font: CC BY 4.0), cut down by scripts/codicons.mjs to the icons the webviews use. */`;
  return `${note}\n${lines.join('\n').replace(FONT_URL, `url("./codicon.ttf?${fontHash}")`)}`;
}

function writeIfChanged(file, data) {
  const next = Buffer.from(data);
  if (fs.existsSync(file) && fs.readFileSync(file).equals(next)) return;
  fs.writeFileSync(file, next);
}

/**
 * An esbuild plugin for the webview build: after each build (watch rebuilds too) it writes the codicons the bundled
 * sources use into `outDir`.
 * @param {string} root the repository
 * @param {string} outDir
 * @returns {import('esbuild').Plugin}
 */
export function codiconSubsetPlugin(root, outDir) {
  return {
    name: 'codicon-subset',
    setup(build) {
      build.initialOptions.metafile = true;
      build.onEnd(async (result) => {
        if (!result.metafile) return;
        const sources = Object.keys(result.metafile.inputs)
          .filter((input) => !input.includes('node_modules/') && /\.[cm]?[jt]s$/.test(input))
          .map((input) => path.resolve(build.initialOptions.absWorkingDir ?? root, input));
        try {
          await writeCodiconSubset(root, sources, outDir);
        } catch (error) {
          return { errors: [{ text: `codicon subset: ${error instanceof Error ? error.message : String(error)}` }] };
        }
      });
    },
  };
}
