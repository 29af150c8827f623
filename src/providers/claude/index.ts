export { ClaudeProvider, CLAUDE_PATH_SETTING, CLAUDE_RESUME_PROMPT, claudeArgs, claudeEnv, type ClaudeProviderOptions } from './provider';
export { resolveClaudeExecutable } from './executable';
