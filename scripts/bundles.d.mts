// Types for bundles.mjs, for the TypeScript tests that import it.
import type { BuildOptions, Plugin } from 'esbuild';
export declare function mcpSdkValidatorPlugin(root: string): Plugin;
export declare function bundles(root: string, options: { production: boolean; webviewPlugins?: Plugin[] }): BuildOptions[];
export declare function mcpServerBundle(root: string, outfile: string): BuildOptions;
