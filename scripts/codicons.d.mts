// Types for codicons.mjs, for the TypeScript tests that import it.
import type { Plugin } from 'esbuild';
export declare function readCodicons(root: string): { css: string; ttf: Buffer; version: string };
export declare function codiconGlyphs(css: string): Map<string, number>;
export declare function iconNamesIn(source: string, names: ReadonlySet<string> | Map<string, number>): Set<string>;
export declare function writeCodiconSubset(root: string, sources: string[], outDir: string): Promise<{ icons: string[]; cssBytes: number; fontBytes: number }>;
export declare function subsetStylesheet(css: string, icons: ReadonlySet<string>, fontHash: string, version: string): string;
export declare function codiconSubsetPlugin(root: string, outDir: string): Plugin;
