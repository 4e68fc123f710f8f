// AddTags / ListTags over any resource ARN this control plane issued.
import { validation } from '../errors';
import { compact, pageArgs, paginate, saveTags, Validator, type Handler } from './common';

const ARN_PATTERN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+$/;

export const addTags: Handler = (ctx, req) => {
  const v = new Validator(req);
  const resourceArn = v.str('ResourceArn', { required: true, max: 256, pattern: ARN_PATTERN, patternText: 'arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:.+' }) as string;
  v.arr('Tags', { required: true, max: 50 });
  const tags = v.tags();
  v.done();
  saveTags(ctx, resourceArn, tags);
  ctx.state.save();
  return { Tags: tags };
};

export const listTags: Handler = (ctx, req) => {
  const v = new Validator(req);
  const resourceArn = v.str('ResourceArn', { required: true, max: 256, pattern: ARN_PATTERN, patternText: 'arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:.+' }) as string;
  const page = pageArgs(v, 50, 100);
  v.done();
  if (!resourceArn.includes(`:${ctx.account}:`)) throw validation(`Resource ${resourceArn} does not belong to account ${ctx.account}.`);
  const { page: items, nextToken } = paginate(ctx.state.data.tags[resourceArn] ?? [], page, resourceArn);
  return compact({ Tags: items, NextToken: nextToken });
};
