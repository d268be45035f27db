// Starts GOV.UK Frontend's components. The pages work without it.
import { initAll } from '../govuk/govuk-frontend.min.js';

initAll();
