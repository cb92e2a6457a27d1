import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { DeliveryService } from '../delivery/delivery.service.js';
import { JsonObjectPipe } from '../http/json-object.pipe.js';
import { HeartbeatRequestDto } from './dto/heartbeat-request.dto.js';
import { toHeartbeatView } from './heartbeat.service.js';
import { TaskService } from './task.service.js';

@Controller()
export class TasksController {
  constructor(
    private readonly tasks: TaskService,
    private readonly delivery: DeliveryService,
  ) {}

  @Get('tasks/:task_id')
  describe(@Param('task_id') taskId: string) {
    return this.tasks.describe(taskId);
  }

  /** Progress and other task messages, to the task's subscribers. */
  @Post('tasks/:task_id/messages')
  @HttpCode(HttpStatus.OK)
  async sendToTask(@Param('task_id') taskId: string, @Body(JsonObjectPipe) message: Record<string, unknown>) {
    const frame = { ...message, task_id: taskId };
    return { delivered: await this.delivery.deliver({ taskIds: [taskId] }, frame) };
  }

  @Post('heartbeats')
  @HttpCode(HttpStatus.CREATED)
  startHeartbeat(@Body() body: HeartbeatRequestDto) {
    const heartbeat = this.tasks.startHeartbeat({
      userId: body.user_id,
      taskId: body.task_id,
      intervalSeconds: body.interval_seconds,
      durationSeconds: body.duration_seconds,
      message: body.message,
    });
    return toHeartbeatView(heartbeat);
  }

  @Delete('heartbeats/:id')
  @HttpCode(HttpStatus.NO_CONTENT)
  stopHeartbeat(@Param('id') id: string): void {
    this.tasks.stopHeartbeat(id);
  }
}
