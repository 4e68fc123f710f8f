// Payload encryption for the worker, the client and the codec server: one
// data converter built from the configuration, or none when no key is set.
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from './aes-gcm';
import type { PayloadKeyring } from './keys';

export { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadDecryptionError, isEncrypted } from './aes-gcm';
export { newKeyEntry, parsePayloadKeys, PAYLOAD_KEYS_VARIABLE, PayloadKeyError, PayloadKeyring } from './keys';

/** The failure converter that encodes messages and stack traces, for bundleWorkflowCode's failureConverterPath. */
export const ENCODING_FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The data converter for `keys` (CHAMP_PAYLOAD_KEYS), or undefined for Temporal's default (plain JSON). */
export function dataConverterFor(keys: PayloadKeyring | undefined): DataConverter | undefined {
  return keys ? { payloadCodecs: [new AesGcmCodec(keys)], failureConverterPath: ENCODING_FAILURE_CONVERTER_PATH } : undefined;
}
