// Types for paths.mjs, for the TypeScript tests that import it.
export type HostName = 'current' | 'floor';
export interface VsCodeHost {
  name: HostName;
  codeServerVersion: string;
  vscodeVersion: string;
  nodePackage: string | undefined;
  nodeVersion: string | undefined;
  developmentArgs: string[];
  settings: Record<string, unknown>;
  nativeModules: string[];
}
type HostRef = HostName | VsCodeHost | undefined;
export declare const HOSTS: Record<HostName, VsCodeHost>;
export declare function host(name?: string): VsCodeHost;
export declare function repoRoot(): string;
export declare function cacheDir(): string;
export declare function codeServerDir(which?: HostRef): string;
export declare function codeServerMarker(which?: HostRef): string;
export declare function hostNodeBin(which?: HostRef): string | undefined;
export declare function codeServerCommand(which?: HostRef): { command: string; args: string[] };
export declare function isCodeServerInstalled(which?: HostRef): boolean;
export declare function which(name: string): string | undefined;
export declare function chromiumPath(): string | undefined;
export declare const CHROMIUM_ARGS: string[];
export declare const DEAD_GALLERY: string;
export declare function demoWorkspaceDir(): string;
export declare function vsixPath(): string;
