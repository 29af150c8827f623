export { CodexProvider, CODEX_CAPABILITIES, CODEX_PATH_SETTING, type CodexProviderOptions, type CodexThreadPolicy } from './provider';
export { CodexAppServer, CodexStartError, type CodexServerMetadata } from './app-server';
export { resolveCodexExecutable, type CodexExecutable } from './executable';
