// Page entry. './ui/boot.ts' must stay the first import: it applies the CSP and theme before anything else runs.
import './ui/boot.ts';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App.tsx';
import { startStudio } from './ui/runner.ts';
import { installTestHandle } from './ui/store.ts';
import './ui/styles.css';

installTestHandle();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
void startStudio();
