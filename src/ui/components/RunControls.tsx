// Run / pause-resume / cancel, and one progress bar per phase with counts and an ETA.
import { useEffect, useState } from 'react';
import type { Phase } from '../../pipeline/experiment.ts';
import { etaSeconds, formatEta, PHASES, phaseFraction } from '../derive.ts';
import { cancelRun, dismissInterrupted, pauseRun, rerunInterrupted, startRun } from '../runner.ts';
import { useStudio } from '../store.ts';

const PHASE_LABELS: Record<Phase, string> = {
  load: 'Load',
  score: 'Score (global RM)',
  filter: 'Filter & weight',
  train: 'Train country RMs',
  efficiency: 'Data efficiency',
  evaluate: 'Reports',
  done: 'Done',
};

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

export function Progress() {
  const run = useStudio((s) => s.run);
  const active = run.status === 'running';
  const now = useNow(active);
  const shown = PHASES.filter((p) => run.phases[p]);
  return (
    <div className="progress" data-testid="progress" data-status={run.status} aria-live="polite">
      <p className="run-status">
        <span className={`dot dot-${run.status}`} aria-hidden="true" />
        <strong data-testid="run-status">{run.status}</strong>
        {run.message ? <span className="muted"> · {run.message}</span> : null}
      </p>
      {shown.map((p) => {
        const ph = run.phases[p];
        if (!ph) return null;
        const f = phaseFraction(ph, p === run.phase ? run.stepFraction : 0);
        const eta = p === run.phase && active ? formatEta(etaSeconds(f, ph.startedAt, now)) : '';
        return (
          <div className="phase" key={p} data-testid={`progress-${p}`}>
            <div className="phase-head">
              <span>{PHASE_LABELS[p]}</span>
              <span className="muted small">
                {ph.done}/{ph.total}
                {eta ? ` · ${eta}` : ''}
                {ph.endedAt !== null ? ` · ${((ph.endedAt - ph.startedAt) / 1000).toFixed(1)} s` : ''}
              </span>
            </div>
            <div className="bar" role="progressbar" aria-label={PHASE_LABELS[p]} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(f * 100)}>
              <div className="bar-fill" style={{ width: `${(f * 100).toFixed(1)}%` }} />
            </div>
            {p === run.phase && ph.endedAt === null ? <div className="small muted phase-label">{ph.label}</div> : null}
          </div>
        );
      })}
      {run.startedAt && run.endedAt ? <p className="small muted">Total {((run.endedAt - run.startedAt) / 1000).toFixed(1)} s</p> : null}
    </div>
  );
}

export function RunControls() {
  const status = useStudio((s) => s.run.status);
  const interrupted = useStudio((s) => s.interrupted);
  const active = status === 'running' || status === 'paused';
  const resumable = interrupted?.runs?.filter((r) => r.method !== 'start').length ?? 0;
  return (
    <section className="panel run-panel" aria-label="Run">
      {interrupted ? (
        <div className="notice warn" role="alert" data-testid="interrupted-run">
          A run started {new Date(interrupted.startedAt).toLocaleTimeString()} was interrupted at about {Math.round(interrupted.progress * 100)}% ({interrupted.label}).
          {resumable ? ` Its ${resumable} finished run${resumable === 1 ? ' is' : 's are'} shown; resuming trains only the rest.` : ''}
          <div className="row">
            <button type="button" data-testid="resume-interrupted" onClick={rerunInterrupted}>
              {resumable ? 'Resume' : 'Re-run it'}
            </button>
            <button type="button" className="link" onClick={dismissInterrupted}>
              Dismiss
            </button>
          </div>
        </div>
      ) : null}
      <div className="run-buttons">
        <button type="button" className="primary" data-testid="run-button" onClick={startRun} disabled={active}>
          {status === 'done' || status === 'cancelled' || status === 'error' ? 'Run again' : 'Run'}
        </button>
        <button type="button" data-testid="pause-button" onClick={pauseRun} disabled={!active} aria-pressed={status === 'paused'}>
          {status === 'paused' ? 'Resume' : 'Pause'}
        </button>
        <button type="button" data-testid="cancel-button" onClick={cancelRun} disabled={!active}>
          Cancel
        </button>
      </div>
      <Progress />
    </section>
  );
}
