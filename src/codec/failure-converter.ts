// Loaded by path (the worker's data converter and the workflow bundle): with
// payload encryption on, failure messages and stack traces travel as an
// encoded payload too, since they name resources, paths and what went wrong.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
