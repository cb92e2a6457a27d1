import type { FastifyReply } from 'fastify';

/** When Fastify accepted the request (epoch ms): where the delivery latency of what it sends starts. */
export function acceptedAt(reply: FastifyReply): number {
  return Date.now() - reply.elapsedTime;
}
