// RFC 9457 problem documents: every error the server answers with carries its ERR_* code.
import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { PROBLEM_CONTENT_TYPE, Problem } from '../protocol/index.ts';

/** Error answers every route may give, for the OpenAPI document and serialization. */
export const problemResponses = { '4xx': Problem, '5xx': Problem } as const;

/** An RFC 9457 problem document for a code. */
export function problem(code: string, status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: `urn:vouch:error:${code}`, title: STATUS_CODES[status] ?? 'Error', status, detail, code, ...extra };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}
