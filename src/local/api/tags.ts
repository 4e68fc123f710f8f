// AddTags / ListTags / DeleteTags over any resource ARN this control plane issued.
import { validation } from '../errors';
import { compact, isObject, pageArgs, paginate, saveTags, Validator, type Handler } from './common';

const ARN_PATTERN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+$/;
const ARN_PATTERN_TEXT = 'arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:.+';
/** A tag key: letters, separators, numbers and `_.:/=+-@` (botocore's TagKey pattern). */
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const TAG_KEY_TEXT = '([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)';

function resourceArnOf(v: Validator): string | undefined {
  return v.str('ResourceArn', { required: true, max: 256, pattern: ARN_PATTERN, patternText: ARN_PATTERN_TEXT });
}

export const addTags: Handler = (ctx, req) => {
  const v = new Validator(req);
  const resourceArn = resourceArnOf(v) as string;
  v.arr('Tags', { required: true, max: 50 });
  const tags = v.tags();
  v.done();
  saveTags(ctx, resourceArn, tags);
  ctx.state.save();
  return { Tags: tags };
};

/** MaxResults has a floor of 50 and no ceiling in SageMaker's shape (ListTagsMaxResults); 50 is the default page. */
export const listTags: Handler = (ctx, req) => {
  const v = new Validator(req);
  const resourceArn = resourceArnOf(v) as string;
  const page = pageArgs(v, 50, { min: 50 });
  v.done();
  if (!resourceArn.includes(`:${ctx.account}:`)) throw validation(`Resource ${resourceArn} does not belong to account ${ctx.account}.`);
  const { page: items, nextToken } = paginate(ctx.state.data.tags[resourceArn] ?? [], page, resourceArn);
  return compact({ Tags: items, NextToken: nextToken });
};

/** Removes the tags with these keys; keys the resource does not carry are ignored, as SageMaker does. */
export const deleteTags: Handler = (ctx, req) => {
  const v = new Validator(req);
  const resourceArn = resourceArnOf(v) as string;
  const keys = v.arr('TagKeys', { required: true, min: 1, max: 50 }) ?? [];
  keys.forEach((k, i) => {
    const path = `TagKeys.${i + 1}.member`;
    if (typeof k !== 'string') v.fail(path, isObject(k) ? JSON.stringify(k) : k, 'Member must be a string');
    else if (k.length < 1) v.fail(path, k, 'Member must have length greater than or equal to 1');
    else if (k.length > 128) v.fail(path, k, 'Member must have length less than or equal to 128');
    else if (!TAG_KEY.test(k)) v.fail(path, k, `Member must satisfy regular expression pattern: ${TAG_KEY_TEXT}`);
  });
  v.done();
  if (!resourceArn.includes(`:${ctx.account}:`)) throw validation(`Resource ${resourceArn} does not belong to account ${ctx.account}.`);
  const existing = ctx.state.data.tags[resourceArn];
  if (existing) {
    const drop = new Set(keys.filter((k): k is string => typeof k === 'string'));
    const kept = existing.filter((t) => !drop.has(t.Key));
    if (kept.length > 0) ctx.state.data.tags[resourceArn] = kept;
    else delete ctx.state.data.tags[resourceArn];
    ctx.state.save();
  }
  return {};
};
