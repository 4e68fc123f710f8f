// The spec module's public API. Workflow code must not import this file (it
// pulls in node:fs through ./load); import ./schema or ./parse there instead.
export * from './schema';
export { durationMs, durationSeconds } from './duration';
export { SpecError, formatPath, type SpecIssue } from './errors';
export { parseSpec, safeParseSpec, parseSpecText, readDocument, type SafeParseSpecResult, type SpecFormat } from './parse';
export { checkContextFiles, checkFolderLinks, MAX_WALKED_ENTRIES } from './context';
export { loadSpecFile, resolveSpecPaths, resolveFileUri, formatForFile, checkLocalInputs, type LoadedSpec } from './load';
export { buildPipelineSpecJsonSchema, renderPipelineSpecJsonSchema, PIPELINE_SPEC_SCHEMA_ID, PIPELINE_SPEC_SCHEMA_FILE } from './json-schema';
export { isJsonContentType } from './rules';
export * from './limits';
