// Types for paths.mjs, for the TypeScript tests that import it.
export declare const CODE_SERVER_VERSION: string;
export declare const VSCODE_VERSION: string;
export declare function repoRoot(): string;
export declare function cacheDir(): string;
export declare function codeServerDir(): string;
export declare function codeServerMarker(): string;
export declare function codeServerBin(): string;
export declare function isCodeServerInstalled(): boolean;
export declare function which(name: string): string | undefined;
export declare function chromiumPath(): string | undefined;
export declare const CHROMIUM_ARGS: string[];
export declare const DEAD_GALLERY: string;
export declare function demoWorkspaceDir(): string;
export declare function vsixPath(): string;
