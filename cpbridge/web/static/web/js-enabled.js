// Marks the page as able to run GOV.UK Frontend's JavaScript (kept out of the HTML: the CSP forbids inline script).
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
