// Bodies the benchmark sends, modelled on the design document's examples (section 4 of
// websocket-manager-design.zh.md) rather than on the smallest body each route accepts:
// Chinese and English text, results from a few hundred bytes to a few KiB, error results,
// callers with and without `timeout_seconds` and `callback_id`, answers with and without
// `feedback`. Each kind rotates through several bodies, so no single shape is measured.

const ROWS = Array.from({ length: 24 }, (_, i) => ({
  row: 1000 + i * 37,
  column: i % 3 === 0 ? 'email' : i % 3 === 1 ? '出生日期' : 'amount',
  reason: i % 2 === 0 ? 'value does not match the expected format' : '必填字段为空',
}));

const METRICS = Array.from({ length: 40 }, (_, epoch) => ({ epoch, loss: 1 / (epoch + 1), accuracy: 0.5 + epoch / 100, lr: 0.001 }));

/** Step results, each with the notify options a caller of that kind would send. */
const STEP_RESULTS = [
  // The design document's data-validation example, as it is (no timeout, no callback_id).
  {
    step_result: {
      step: 'data_validation', result: { validated_rows: 1000, errors: 5 }, completed: true,
      message: '数据验证完成，发现5个错误', status: 'completed',
    },
  },
  // The document's failed model-training step.
  {
    step_result: {
      step: 'model_training', result: null, completed: false, message: '模型训练失败，是否重试？',
      status: 'failed', error_code: 'E003', error_message: 'GPU 内存不足',
    },
  },
  // A validation report of about 2.5 KiB, English, with a caller-chosen id and a timeout.
  {
    timeout_seconds: 120,
    callbackId: true,
    step_result: {
      step: 'data_validation', completed: true, status: 'completed',
      message: 'Validation finished: 24 rows failed. Continue with the 976 valid rows?',
      result: { validated_rows: 1000, valid_rows: 976, errors: 24, failed_rows: ROWS, source: 's3://datasets/customers-2026-11.csv' },
    },
  },
  // Training metrics of about 3 KiB, Chinese message, no timeout.
  {
    step_result: {
      step: 'model_training', completed: true, status: 'completed',
      message: '第 40 轮训练完成，验证集准确率 89.0%。是否继续部署到预发布环境？',
      result: { epochs: 40, best_epoch: 38, metrics: METRICS, artifact: 'models/churn/v12/model.onnx' },
    },
  },
  // An English failure with a long error message, a timeout and a caller-chosen id.
  {
    timeout_seconds: 600,
    callbackId: true,
    step_result: {
      step: 'export_report', result: { attempted: 3 }, completed: false, status: 'failed',
      message: 'Export failed three times. Retry, or skip the export?',
      error_code: 'EXPORT_TIMEOUT',
      error_message: 'The reporting service did not answer within 30 s (attempts at 10:01:12, 10:01:45, 10:02:19).',
    },
  },
  // A short Chinese confirmation with a small result.
  {
    step_result: {
      step: 'data_cleaning', result: { removed_duplicates: 37, filled_missing: 112 }, completed: true,
      message: '数据清洗完成，是否进入特征工程阶段？', status: 'completed',
    },
  },
];

/** The user's answers, as the design document's browser client gives them: all say proceed. */
const ANSWERS = [
  { proceed: true, feedback: '同意继续' },
  { proceed: true },
  { proceed: true, feedback: 'Looks good, go ahead with the valid rows.' },
  { proceed: true, feedback: '同意继续执行，请在完成后通知我。' },
  { proceed: true, feedback: null },
];

/** The `n`th POST /notify body for `userId`, rotating through the step results above. */
export function notifyBody(userId, step) {
  const { step_result, timeout_seconds, callbackId } = STEP_RESULTS[step % STEP_RESULTS.length];
  return {
    user_id: userId,
    task_id: `task-${userId}`,
    step,
    step_result,
    ...(timeout_seconds !== undefined && { timeout_seconds }),
    ...(callbackId && { callback_id: `task-${userId}.step-${step}` }),
  };
}

/** The `confirm` frame answering a `task_step_result`, rotating through the answers above. */
export function confirmAnswer(callbackId, n) {
  return { action: 'confirm', callback_id: callbackId, ...ANSWERS[n % ANSWERS.length] };
}

const PUSHES = [
  (seq) => ({ type: 'system_notification', message: '系统将在5分钟后进行维护', timestamp: Date.now() / 1000, severity: 'warning', seq }),
  (seq) => ({ type: 'task_progress', task_id: `task-${seq % 500}`, progress: seq % 100, message: `任务执行进度 ${seq % 100}%`, timestamp: Date.now() / 1000 }),
  (seq) => ({ type: 'personal_notification', message: '您的任务已完成', task_id: `task-${seq % 500}` }),
  (seq) => ({
    type: 'task_progress', task_id: `task-${seq % 500}`, progress: seq % 100, stage: 'feature_engineering',
    message: `Building features: ${seq % 100}% of 1,000,000 rows`, eta_seconds: 120 - (seq % 100), timestamp: Date.now() / 1000,
  }),
  (seq) => ({
    type: 'system_notification', severity: 'info', timestamp: Date.now() / 1000,
    message: 'Scheduled maintenance tonight 01:00–02:00 UTC: running tasks pause and resume afterwards. 今晚 01:00–02:00 (UTC) 例行维护，运行中的任务将暂停并在维护后继续。',
  }),
];

/**
 * A message for the push and fan-out scenarios: one of the document's notifications plus
 * `bench` and `seq`, which let the clients recognise it without looking further.
 */
export function payload(bench, seq) {
  return { ...PUSHES[seq % PUSHES.length](seq), bench, seq, sent_at: Date.now() };
}
