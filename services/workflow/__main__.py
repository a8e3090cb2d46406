from services.workflow.app import main

main()
