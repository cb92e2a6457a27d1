import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** This process's id among the instances sharing a Redis (and in logs and /status). */
@Injectable()
export class InstanceIdentity {
  readonly id = randomUUID();
}
